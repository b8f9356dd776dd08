import type { Run } from '../model';
import type { MonitorDeps } from './types';

/** A failure here leaves `dependentsPending` set: a later sweep's `recover` fires them. */
export async function fireDependents(deps: MonitorDeps, run: Run): Promise<void> {
  await deps.dependents?.fire(run).catch((error: unknown) =>
    deps.log.log('warn', 'dependents could not be fired; a later sweep will', {
      runId: run.runId,
      error,
    }),
  );
}
