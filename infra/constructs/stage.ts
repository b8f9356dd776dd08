import { validatePrefix } from '../resources';

/** The stage used when `-c stage=...` is not given. */
export const DEFAULT_STAGE = 'dev';

/**
 * The resource prefix of a stage: `clover-<stage>`. Throws, naming the value, when the stage is not
 * a non-empty string or makes a prefix that infra/resources.ts would refuse.
 * @example stagePrefix('prod') // 'clover-prod'; stagePrefix(undefined) // 'clover-dev'
 */
export function stagePrefix(stage: unknown = DEFAULT_STAGE): string {
  if (typeof stage !== 'string' || stage.length === 0) {
    throw new Error(`stage must be a non-empty string (-c stage=prod), got ${JSON.stringify(stage)}`);
  }
  return validatePrefix(`clover-${stage}`);
}
