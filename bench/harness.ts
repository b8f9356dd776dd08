/**
 * The set-up every bench shares, written once: an emulator (infra/local/emulator.ts: moto_server,
 * LocalStack or `AWS_ENDPOINT_URL`), SDK clients bound to it with a timeline of their calls, a
 * freshly provisioned stack under `bench-<name>-<pid>`, one control plane, in-process agents or
 * hand-registered workers, a scratch directory; and the teardown of all of it, in reverse, even when
 * the bench throws.
 *
 * @example
 * export const myBench = (fires = 100) =>
 *   withBenchStack({ name: 'my-bench' }, async (stack) => {
 *     await stack.agent({ workerId: 'bench-1', handlers: { 'bench.noop': async () => {} } });
 *     await stack.plane.jobService.define({ jobId: 'j', handler: 'bench.noop' });
 *     ...
 *     return { fires, emulator: stack.emulator.kind };
 *   });
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AwsClients, awsClients } from '../core/adapters/aws-clients';
import { type ControlPlane, type ControlPlaneOptions, controlPlane } from '../core/adapters/control-plane';
import { provision, teardown } from '../core/adapters/provision';
import { ensureWorkerQueue } from '../core/adapters/sqs-inbox';
import { jsonLogger, type Logger, silentLogger } from '../core/log';
import { isFinal, type Run, WorkerRegistrationSchema } from '../core/model';
import { type Emulator, startEmulator } from '../infra/local/emulator';
import { Agent, type AgentOptions } from '../worker-agent/agent';
import { sqsAgentDeps } from '../worker-agent/agent-deps';
import { parseAgentConfig } from '../worker-agent/config';
import type { HandlerFunction } from '../worker-agent/handler';
import { CallTimeline } from './aws-timeline';

export interface BenchStackOptions {
  /** Names the resource prefix, `bench-<name>-<pid>`, and the scratch directory. */
  readonly name: string;
  /** The plane's options beyond clients and prefix: ZeroMQ keys, the worker-list cache, a logger. */
  readonly plane?: Omit<ControlPlaneOptions, 'clients' | 'prefix'>;
  /** Skip provisioning (a bench that provisions differently, or needs no tables). @default true */
  readonly provision?: boolean;
  /**
   * One deadline for every call of the stack's clients (the plane's, the agents', `ownClients`), over
   * the product's few seconds (core/adapters/aws-clients.ts): for benches whose seeding and big
   * queries wait on moto under load, where a slow answer is the emulator's. @default the product's
   */
  readonly callTimeoutMs?: number;
}

export interface BenchAgentOptions {
  readonly workerId: string;
  /** @default 'bench' */
  readonly pool?: string;
  /** @default 100 */
  readonly capacity?: number;
  /** Handlers registered before the agent starts (its lease lists them). */
  readonly handlers: Readonly<Record<string, HandlerFunction>>;
  /** More lines of agent YAML (a `zmq:` section, lease settings…). */
  readonly yaml?: readonly string[];
  /** Options of `new Agent` beyond config, deps and logger. @default { host: '127.0.0.1' } */
  readonly agent?: Omit<AgentOptions, 'config' | 'deps' | 'logger'>;
}

export interface BenchStack {
  readonly emulator: Emulator;
  readonly clients: AwsClients;
  readonly prefix: string;
  readonly plane: ControlPlane;
  /** Every AWS call of `clients` (the plane's and the in-process agents'), timed. */
  readonly calls: CallTimeline;
  /** A scratch directory (agent journals), removed at teardown. */
  readonly dir: string;
  /** JSON lines on stderr when `BENCH_LOG` is set, silent otherwise. */
  readonly log: Logger;
  /** Starts an in-process agent (worker-agent/agent.ts) on this stack; stopped at teardown. */
  agent(options: BenchAgentOptions): Promise<Agent>;
  /**
   * SDK clients of their own on the same emulator, with their own timeline — what a separate agent
   * process has, so its calls can be told from the others'. Destroyed at teardown.
   */
  ownClients(): { readonly clients: AwsClients; readonly calls: CallTimeline };
  /** A worker lease written by hand, with its own queue, for benches that play the worker themselves. */
  registerWorker(options: {
    readonly workerId: string;
    readonly handlers: readonly string[];
    readonly capacity?: number;
    readonly ttlMs?: number;
  }): Promise<{ readonly queueUrl: string }>;
}

/** Runs `body` on a fresh bench stack and tears everything down after it, whether it returned or threw. */
export async function withBenchStack<T>(
  options: BenchStackOptions,
  body: (stack: BenchStack) => Promise<T>,
): Promise<T> {
  const log = process.env.BENCH_LOG ? jsonLogger() : silentLogger;
  const emulator = await startEmulator({ startTimeoutMs: 120_000 });
  const timeout = options.callTimeoutMs;
  const newClients = () =>
    awsClients({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: emulator.credentials,
      ...(timeout === undefined
        ? {}
        : { callTimeoutMs: { dynamodb: timeout, sqs: timeout, scheduler: timeout, ses: timeout } }),
    });
  const clients = newClients();
  const prefix = `bench-${options.name}-${process.pid}`;
  const calls = new CallTimeline(clients, prefix);
  const dir = await mkdtemp(join(tmpdir(), `clover-bench-${options.name}-`));
  const plane = controlPlane({ log, ...options.plane, clients, prefix });
  const agents: Agent[] = [];
  const extraClients: AwsClients[] = [];
  try {
    if (options.provision ?? true) await provision(clients, prefix);
    return await body({
      emulator,
      clients,
      prefix,
      plane,
      calls,
      dir,
      log,
      async agent({ workerId, handlers, pool = 'bench', capacity = 100, yaml = [], agent: extra }) {
        const config = parseAgentConfig(
          [
            `workerId: ${workerId}`,
            `pool: ${pool}`,
            `capacity: ${capacity}`,
            `journalDir: ${join(dir, workerId)}`,
            ...yaml,
          ].join('\n'),
          { env: {} },
        );
        const agent = new Agent({
          host: '127.0.0.1',
          ...extra,
          config,
          deps: sqsAgentDeps({ clients, prefix, logger: log }),
          logger: log,
        });
        for (const [name, fn] of Object.entries(handlers)) agent.handle(name, fn);
        agents.push(agent);
        await agent.start();
        return agent;
      },
      ownClients() {
        const own = newClients();
        extraClients.push(own);
        return { clients: own, calls: new CallTimeline(own, prefix) };
      },
      async registerWorker({ workerId, handlers, capacity = 100, ttlMs = 3_600_000 }) {
        const queueUrl = await ensureWorkerQueue(clients.sqs, prefix, workerId);
        await plane.workers.register(
          WorkerRegistrationSchema.parse({
            workerId,
            host: 'bench',
            handlers,
            capacity,
            endpoints: { queueUrl },
          }),
          Date.now(),
          ttlMs,
        );
        return { queueUrl };
      },
    });
  } finally {
    for (const agent of agents) await agent.close({ force: true }).catch(() => undefined);
    await plane.close().catch(() => undefined);
    if (options.provision ?? true) await teardown(clients, prefix).catch(() => undefined);
    for (const own of extraClients) own.destroy();
    clients.destroy();
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Polls the run until it is final (SUCCEEDED, FAILED…); throws after `attempts` polls. */
export async function waitForFinal(
  plane: Pick<ControlPlane, 'runs'>,
  runId: string,
  { pollMs = 2, attempts = 1000 }: { readonly pollMs?: number; readonly attempts?: number } = {},
): Promise<Run> {
  for (let i = 0; i < attempts; i += 1) {
    const current = await plane.runs.get(runId);
    if (current && isFinal(current)) return current;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`run ${runId} did not finish`);
}

/**
 * Runs a bench script in its own node process (for benches that measure timer lateness, which other
 * work in this process would distort) and returns the figures it prints as the last line of stdout,
 * as JSON. The child's stderr and earlier stdout lines pass through to this terminal.
 */
export async function figuresFromChild(script: string, args: readonly string[] = []): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    process.stdout.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  const last = out.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`${script} did not end with a line of JSON figures`);
  }
}
