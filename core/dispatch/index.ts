/**
 * The dispatcher: decides each fire, writes its run and delivers it. See dispatcher.ts for the rooms
 * of this folder and where each part of a fire lives.
 */
export { Dispatcher } from './dispatcher';
export { RETRY_READ_LIMITS } from './redispatch';
export type { DispatcherDeps, FireOutcome, FireRequest } from './types';
export { FireRequestSchema } from './types';
