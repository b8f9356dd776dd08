/** The three configurations together, for what must hold in every one of them. */
import { stack, template } from './base-stage';
import { full } from './full-stage';
import { throwaway } from './throwaway-stage';

export const CONFIGS = { base: { stack, template }, full, throwaway } as const;
export type Config = (typeof CONFIGS)[keyof typeof CONFIGS];
export const cloverFunctions = (c: Config) => [
  c.stack.dispatcher,
  c.stack.monitor,
  c.stack.notifier,
  c.stack.curveKeys.generator,
  ...(c.stack.api ? [c.stack.api.fn] : []),
];
