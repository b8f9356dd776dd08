/**
 * The worker agent's public API: everything a host program needs to run Clover jobs in-process.
 *
 * @example
 * import { Agent, loadAgentConfig, sqsAgentDeps } from './worker-agent';
 * const config = await loadAgentConfig({ path: 'agent.yaml' });
 * const agent = new Agent({ config, deps: sqsAgentDeps({ clients: awsClients(), prefix: 'clover-dev' }) });
 * agent.handle('report.daily', async (ctx) => ({ rows: 12 }));
 * await agent.start();
 */
export { Agent, type AgentOptions, type AgentState, type AgentStopped } from './agent';
export { type AgentDeps, sqsAgentDeps } from './agent-deps';
export {
  AGENT_CONFIG_ENV_VAR,
  AGENT_ENV_VARS,
  type AgentConfig,
  type AgentConfigFlags,
  ConfigError,
  loadAgentConfig,
  parseAgentConfig,
} from './config';
export type { Handler, HandlerContext, HandlerFunction } from './handler';
export {
  JobOwnershipError,
  ownerIdFor,
  type SyncConflict,
  type SyncResult,
  syncDeclaredJobs,
} from './job-sync';
export { Journal, type JournalEntry } from './journal';
export { LeaseKeeper, type LeaseLostReason } from './lease';
export type { LocalFireEvent, WonFire } from './local-decisions';
export { LocalFires, type LocalFiresOptions } from './local-fires';
export { HandlerRegistry, handler } from './registry';
export { type AbortCause, RunAbortedError } from './run-context';
export { type ExecuteResult, runError } from './run-executor';
export { ShellCommandError, shellHandler } from './shell-handler';
export { type AgentQueue, type AgentQueues, sqsAgentQueues } from './sqs-queues';
