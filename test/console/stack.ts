/**
 * The real local runtime for the console's browser tests and benchmark: `npm start`'s runtime
 * (functions/local/runtime.ts: emulator, control-plane loops, the management API with local sign-in
 * serving the built console on one loopback origin) and real agent processes running the `steps`
 * handler of test/agent/fixtures/handlers.ts.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import type { Role } from '../../core/api/schemas';
import { jsonLogger } from '../../core/log';
import { ensureConsoleBuilt } from '../../functions/local/console-build';
import { startLocalRuntime } from '../../functions/local/runtime';
import { readSentEmails, type SentEmail } from '../../infra/local/emulator';
import { type AgentProcess, startAgent, testHandlersConfig } from '../harness/agent-process';
import { type EmulatorHandle, uniquePrefix } from '../harness/index';

/** Where `npm run build:console` writes the console; the local runtime serves it from there. */
export const CONSOLE_DIST = resolve(import.meta.dirname, '../../console/dist');

/** `npm run build:console`, in process: the tests always run against the console as it is now. */
export async function buildConsole(): Promise<void> {
  await build({ configFile: resolve(import.meta.dirname, '../../console/vite.config.ts'), logLevel: 'warn' });
}

export interface ConsoleStack {
  /** The one origin: console at /, API at /api. */
  readonly url: string;
  readonly passwords: Readonly<Record<Role, string>>;
  /** The first agent (worker id `console-w1`, pool `default`, handler `steps`). */
  readonly agent: AgentProcess;
  /** The email the emulator's SES accepted (alert mail), oldest first. */
  sentEmails(): Promise<SentEmail[]>;
  /** A bearer token for `role`. */
  token(role: Role): Promise<string>;
  /** Calls the API as `role`; throws with the API's code and message on an error status. */
  api<T = unknown>(role: Role, method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export async function startConsoleStack(options: { readonly agents?: number } = {}): Promise<ConsoleStack> {
  // Rebuilt only when a console source is newer than the build: two test files building console/dist
  // at once (this one and test/console/start.test.ts) would empty it under each other's server.
  await ensureConsoleBuilt(jsonLogger({ level: 'warn' }));
  const dir = await mkdtemp(join(tmpdir(), 'clover-console-'));
  const log = jsonLogger({ level: 'warn' });
  const prefix = uniquePrefix();
  const runtime = await startLocalRuntime({
    log,
    prefix,
    envFile: join(dir, 'local.env'),
    tickMs: 500,
    monitorMs: 2000,
    apiPort: 0,
    stateDir: join(dir, 'state'),
  });
  const stops: (() => Promise<unknown>)[] = [() => runtime.stop()];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  try {
    if (!runtime.api) throw new Error('the local runtime serves no API');
    const { auth, url } = runtime.api;
    // Shown once, when created (the state directory is new): the users file keeps only hashes.
    const { admin, operator, viewer } = auth.newPasswords;
    if (!admin || !operator || !viewer) throw new Error('a new state directory gets new passwords');

    const aws = { prefix, emulator: runtime.emulator } as unknown as EmulatorHandle;
    const agents: AgentProcess[] = [];
    for (let i = 1; i <= (options.agents ?? 1); i += 1) {
      const agent = await startAgent({
        aws,
        workerId: `console-w${i}`,
        config: [
          'pool: default',
          'capacity: 2',
          // A long lease: on a loaded machine a short one lapses and the worker drops out mid-test.
          'heartbeatIntervalSeconds: 2',
          'leaseTtlSeconds: 20',
          testHandlersConfig(['steps']),
        ].join('\n'),
      });
      stops.push(() => agent.kill());
      agents.push(agent);
    }
    await Promise.all(agents.map((a) => a.waitForLog(/agent started/, 60_000)));

    const tokens = new Map<Role, string>();
    const token = async (role: Role) => {
      let t = tokens.get(role);
      if (!t) {
        t = (await auth.issue(`test-${role}`, role)).token;
        tokens.set(role, t);
      }
      return t;
    };
    const first = agents[0];
    if (!first) throw new Error('the console stack needs at least one agent');
    return {
      url,
      passwords: { admin, operator, viewer },
      agent: first,
      token,
      sentEmails: () => readSentEmails(runtime.emulator),
      async api<T>(role: Role, method: string, path: string, body?: unknown): Promise<T> {
        const response = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${await token(role)}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
        return (text ? JSON.parse(text) : undefined) as T;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
