#!/usr/bin/env node
/**
 * `clover-agent`: a thin argument parser over the Agent library.
 *
 *   clover-agent --config agent.yaml [--worker-id ID] [--pool POOL] [--capacity N] [--labels k=v,k2=v2]
 *                [--priority N] [--heartbeat-interval-seconds S] [--lease-ttl-seconds S]
 *                [--drain-grace-seconds S] [--journal-dir DIR] [--help]
 *
 * AWS settings come from the standard SDK environment (AWS_ENDPOINT_URL, AWS_REGION, credentials);
 * the stage from CLOVER_PREFIX (default `clover-local`, what `npm start` provisions), so
 * `set -a; . .clover/local.env; set +a` is enough to join the local control plane.
 *
 * Signals: the first SIGINT / SIGTERM drains; copies arriving within a second of it (the group's
 * signal plus a launcher's relay) are the same request; a later one forces a stop.
 *
 * Exit codes: 0 drained and stopped (SIGTERM / SIGINT); 1 could not start, or forced out (a second
 * signal, or the drain overran its grace by FORCE_SLACK_MS); 2 bad config or arguments (or a
 * journalDir another running agent holds); 3 the lease was lost and the agent did not rejoin:
 * `exitOnLeaseLoss: true`, or no new lease could be registered within `rejoinTimeoutSeconds`
 * (a supervisor should restart it).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { awsClients } from '../core/adapters/aws-clients';
import { jsonLogger, type LogLevel } from '../core/log';
import { onStopSignals } from '../core/stop-signals';
import { Agent } from './agent';
import { sqsAgentDeps } from './agent-deps';
import { apiClientFromEnv, apiDeclaredJobSync } from './api-sync';
import { type AgentConfigFlags, ConfigError, loadAgentConfig, parseLabels } from './config';
import { JournalInUseError } from './journal';
import { RejoiningAgent } from './rejoin';

const USAGE = `Usage: clover-agent --config agent.yaml [options]

Runs Clover jobs on this host: registers a lease, receives runs over SQS, runs the handlers declared
in the config file (or registered in code) and reports their outcomes.

Options (each overrides the config file and its CLOVER_AGENT_* environment variable):
  --config PATH                      config file (env CLOVER_AGENT_CONFIG)
  --worker-id ID                     worker id (default <hostname>-<pid>)
  --pool POOL                        worker pool (default "default")
  --labels k=v,k2=v2                 labels (replace the file's)
  --capacity N                       runs at once (default 4)
  --priority N                       lower runs first under FIRST / FAILOVER routing (default 100)
  --heartbeat-interval-seconds S     lease renewal interval (default 4)
  --lease-ttl-seconds S              lease length (default 8)
  --drain-grace-seconds S            time runs get to finish after SIGTERM (default 30)
  --journal-dir DIR                  outage journal directory (default .clover/journal)
  -h, --help                         this text

Environment: AWS_ENDPOINT_URL, AWS_REGION, AWS credentials (standard AWS SDK variables),
CLOVER_PREFIX (stage resource prefix, default clover-local), CLOVER_LOG_LEVEL (debug|info|warn|error).
CLOVER_MONITOR_FUNCTION (the monitor Lambda a LOCAL fire wakes; default <prefix>-monitor in AWS, none
with AWS_ENDPOINT_URL; "none" turns waking off).
CLOVER_API_URL with CLOVER_API_TOKEN (or CLOVER_API_AUTH=iam for SigV4 in AWS): declared jobs are
synced through the management API instead of written to the job table directly.

Signals: SIGINT (Ctrl-C) or SIGTERM drains: running runs get the drain grace to finish. Another one,
a second or more later, forces a stop (unfinished runs are handed back, their commands stopped).

A lost lease (the control plane stalled past it) is ridden out: the agent hands its runs back,
registers a new lease and carries on, retrying with backoff for rejoinTimeoutSeconds (config file,
default 600); exitOnLeaseLoss: true in the config file exits at once instead.

Exit codes: 0 stopped cleanly, 1 failed or forced, 2 bad config or arguments, 3 lease lost and not
regained (exitOnLeaseLoss, or rejoinTimeoutSeconds passed).
`;

/** How long past the drain grace a stop may take before the process exits anyway. */
const FORCE_SLACK_MS = 15_000;
/** After a second signal, how long the forced cleanup may take. */
const SECOND_SIGNAL_EXIT_MS = 5_000;

const NUMERIC: readonly (keyof AgentConfigFlags)[] = [
  'capacity',
  'priority',
  'heartbeatIntervalSeconds',
  'leaseTtlSeconds',
  'drainGraceSeconds',
];

export interface ParsedArgs {
  readonly help: boolean;
  readonly config: string | undefined;
  readonly flags: AgentConfigFlags;
}

/** Parses the command line; throws a TypeError naming the bad option. */
export function parseAgentArgs(argv: readonly string[]): ParsedArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      'worker-id': { type: 'string' },
      pool: { type: 'string' },
      labels: { type: 'string' },
      capacity: { type: 'string' },
      priority: { type: 'string' },
      'heartbeat-interval-seconds': { type: 'string' },
      'lease-ttl-seconds': { type: 'string' },
      'drain-grace-seconds': { type: 'string' },
      'journal-dir': { type: 'string' },
    },
  });
  const flags: Record<string, unknown> = {};
  const take = (option: string, key: keyof AgentConfigFlags) => {
    const value = values[option as keyof typeof values];
    if (typeof value !== 'string') return;
    if (key === 'labels') flags[key] = parseLabels(value);
    else if (NUMERIC.includes(key)) {
      const n = Number(value);
      // Not a number: pass the text on, so the config schema names the flag and the reason.
      flags[key] = value.trim() === '' || Number.isNaN(n) ? value : n;
    } else flags[key] = value;
  };
  take('worker-id', 'workerId');
  take('pool', 'pool');
  take('labels', 'labels');
  take('capacity', 'capacity');
  take('priority', 'priority');
  take('heartbeat-interval-seconds', 'heartbeatIntervalSeconds');
  take('lease-ttl-seconds', 'leaseTtlSeconds');
  take('drain-grace-seconds', 'drainGraceSeconds');
  take('journal-dir', 'journalDir');
  return { help: values.help === true, config: values.config, flags: flags as AgentConfigFlags };
}

/**
 * Runs the agent CLI to the end and resolves with the exit code (the caller exits with it).
 *
 * @example
 * process.exit(await runAgentCli(process.argv.slice(2)));
 */
/**
 * The monitor Lambda a LOCAL fire or chained run wakes (core/monitor/watch.ts): CLOVER_MONITOR_FUNCTION,
 * else the stage's own in AWS; none on an emulator (AWS_ENDPOINT_URL), where `npm start` watches the
 * ledger itself, or when set to `none`.
 */
export function monitorFunctionFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
): { monitorFunction?: string } {
  const named = env.CLOVER_MONITOR_FUNCTION;
  if (named === 'none') return {};
  if (named) return { monitorFunction: named };
  return env.AWS_ENDPOINT_URL ? {} : { monitorFunction: `${prefix}-monitor` };
}

export async function runAgentCli(argv: readonly string[]): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseAgentArgs(argv);
  } catch (error) {
    console.error(`clover-agent: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: Awaited<ReturnType<typeof loadAgentConfig>>;
  try {
    config = await loadAgentConfig({ ...(args.config ? { path: args.config } : {}), flags: args.flags });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const level = (process.env.CLOVER_LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const logger = jsonLogger({ level, fields: { component: 'agent' } });
  const prefix = process.env.CLOVER_PREFIX || 'clover-local';
  const clients = awsClients();
  // Declared jobs go through the management API when one is configured (CLOVER_API_URL with a
  // token, or with CLOVER_API_AUTH=iam in AWS); otherwise straight to the job table.
  const api = apiClientFromEnv(process.env);
  const deps = {
    ...sqsAgentDeps({ clients, prefix, logger, ...monitorFunctionFromEnv(process.env, prefix) }),
    ...(api ? { declaredJobSync: apiDeclaredJobSync(api) } : {}),
  };
  // A lost lease (a stalled control plane, say) is ridden out by registering a new one (rejoin.ts).
  const life = new RejoiningAgent({
    create: (agentLogger) => new Agent({ config, deps, logger: agentLogger }),
    exitOnLeaseLoss: config.exitOnLeaseLoss,
    rejoinTimeoutMs: config.rejoinTimeoutMs,
    logger,
  });

  let signals = 0;
  // One Ctrl-C reaches the agent more than once (the group's signal plus npm's relay): see stop-signals.ts.
  onStopSignals((signal, count) => {
    signals = count;
    if (count === 1) {
      logger.log('info', `${signal}: draining`, { graceMs: config.drainGraceMs });
      setTimeout(() => {
        logger.log('error', 'drain overran its grace period; exiting', { graceMs: config.drainGraceMs });
        process.exit(1);
      }, config.drainGraceMs + FORCE_SLACK_MS).unref();
      void life.close();
    } else {
      logger.log('warn', `${signal} again: forced stop`);
      setTimeout(() => process.exit(1), SECOND_SIGNAL_EXIT_MS).unref();
      void life.close({ force: true });
    }
  });

  try {
    await life.start();
  } catch (error) {
    clients.destroy();
    if (error instanceof ConfigError || error instanceof JournalInUseError) {
      console.error(error.message);
      return 2;
    }
    return 1;
  }
  const stopped = await life.stopped;
  clients.destroy();
  const code = stopped.reason === 'lease_lost' ? 3 : signals > 1 ? 1 : 0;
  // A launcher in between (npm) may report its own status instead: say which code the agent chose.
  logger.log('info', 'agent exiting', { code, reason: stopped.reason });
  return code;
}

/** True when this file is the program (not imported, e.g. by a test of parseAgentArgs). */
function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runAgentCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
