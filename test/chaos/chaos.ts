/**
 * What every chaos scenario shares (test/chaos/*.chaos.ts, `npm run test:chaos`): the stage each opens
 * with (chaosStage: a seeded random source, the marker file the chaos handler writes (handlers.ts), the
 * emulator's stack and a control plane), agent config and job specs for the chaos handler, and the tally
 * that turns markers and run records into the scenario's one line:
 *
 *   scenario <name>: fires N, runs N, duplicates 0, lost 0
 *
 * - fires: fire invocations the scenario issued (deliberate duplicates included).
 * - runs: distinct fires whose handler actually started, counted by the handler's own `start` marker.
 * - duplicates: executions beyond what one fire may have —
 *     an attempt of a run started more than once (the same (runId, attempt) twice),
 *   + an execution that began while another live process executed the same run (`overlap`),
 *   + the work of a fire completed more than once (`end` markers beyond one),
 *   + executions of a run no fire asked for, and run records beyond one per distinct fire.
 *   Attempts that the job's policy makes (a retry after FAILED, recovery after the worker was lost)
 *   are not duplicates: each is a different attempt, and an attempt whose worker died never ended.
 * - lost: distinct fires without a terminal outcome (no record, or still PENDING/DISPATCHED/RUNNING
 *   when the scenario has waited for them), plus fires whose work ended but whose record does not say
 *   SUCCEEDED (the outcome was lost), plus SUCCEEDED records whose work never ended.
 *
 * The test fails unless both duplicates and lost are 0; it then lists each problem with its evidence.
 * The seed is random per run and printed; `CLOVER_CHAOS_SEED=<n> npm run test:chaos` replays a run's
 * choices (timing on a busy machine still varies).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ControlPlane, type ControlPlaneOptions, controlPlane } from '../../core/adapters/control-plane';
import type { ProvisionedStack } from '../../core/adapters/provision';
import { isFinal, type JobSpecInput, type Run } from '../../core/model';
import { emulatorEnv } from '../../infra/local/emulator';
import type { EmulatorHandle } from '../harness';
import type { AgentFleet, AgentProcess, StartAgentOptions } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const HANDLERS = resolve(import.meta.dirname, 'handlers.ts');
const DYING_DISPATCHER = resolve(import.meta.dirname, 'dying-dispatcher.ts');

/**
 * Fires in a dispatcher process that is killed -9 between the run write and the send (`send`), or
 * between taking the job's lock and putting the run (`put`) (dying-dispatcher.ts); resolves to the
 * signal it died of.
 */
export function fireAndDie(
  aws: EmulatorHandle,
  fire: { jobId: string; scheduledTime: string },
  where: 'send' | 'put' = 'send',
): Promise<NodeJS.Signals | null> {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), DYING_DISPATCHER, fire.jobId, fire.scheduledTime, where],
    {
      env: {
        ...process.env,
        ...emulatorEnv(aws.emulator),
        CLOVER_PREFIX: aws.prefix,
        NODE_OPTIONS: '',
        NODE_NO_WARNINGS: '1',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return new Promise((done) => child.on('exit', (_code, signal) => done(signal)));
}

/** What a scenario starts from: its seeded choices, its marker file, the file's stack and a control plane. */
export interface ChaosStage {
  readonly chaos: Chaos;
  readonly marks: Marks;
  readonly stack: ProvisionedStack;
  readonly plane: ControlPlane;
  /** Another control plane over the same stage (its own caches, like another Lambda container). */
  newPlane(): ControlPlane;
}

/**
 * The opening every scenario shares, in this order: the seed printed, the marker file made, this
 * file's stack provisioned on the emulator, a control plane over it with `plane` options (e.g.
 * `workerCacheMs: 0`, so the dispatcher sees a dead or moved worker at once).
 */
export async function chaosStage(
  aws: EmulatorHandle,
  name: string,
  plane: Omit<ControlPlaneOptions, 'clients' | 'prefix'> = {},
): Promise<ChaosStage> {
  const chaos = new Chaos(name);
  const marks = await Marks.create(name);
  const stack = await aws.provisioned();
  const newPlane = () => controlPlane({ clients: aws.clients, prefix: aws.prefix, ...plane });
  return { chaos, marks, stack, plane: newPlane(), newPlane };
}

/** A small seeded PRNG (mulberry32): the scenario's choices, replayable from the printed seed. */
export class Chaos {
  readonly seed: number;
  private state: number;

  constructor(readonly name: string) {
    const fromEnv = process.env.CLOVER_CHAOS_SEED;
    this.seed = fromEnv ? Number(fromEnv) >>> 0 : randomInt(2 ** 31);
    this.state = this.seed;
    console.log(`chaos ${name}: seed ${this.seed} (CLOVER_CHAOS_SEED=${this.seed} replays its choices)`);
  }

  /** Uniform in [0, 1). */
  random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}

/** One line of the marker file. */
export interface Mark {
  readonly e: 'start' | 'overlap' | 'end' | 'fail' | 'abort';
  readonly runId: string;
  readonly attempt: number;
  readonly worker?: string;
  readonly pid: number;
  readonly at: number;
}

/** The shared marker file and the directory of gate files for one scenario. */
export class Marks {
  private constructor(
    /** The file every agent's chaos handler appends to (CLOVER_CHAOS_MARKS). */
    readonly file: string,
    readonly dir: string,
  ) {}

  static async create(name: string): Promise<Marks> {
    const dir = await mkdtemp(join(tmpdir(), `clover-chaos-${name}-`));
    const file = join(dir, 'marks.jsonl');
    await mkdir(`${file}.active`);
    return new Marks(file, dir);
  }

  /** The environment an agent needs for the chaos handler. */
  get env(): Record<string, string> {
    return { CLOVER_CHAOS_MARKS: this.file };
  }

  /** A gate file path (the handler waits for it when its payload names it); `open` it with writeFile. */
  gate(name: string): string {
    return join(this.dir, `gate-${name}`);
  }

  async read(): Promise<Mark[]> {
    const text = await readFile(this.file, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Mark);
  }

  /** Run ids whose handler has started (attempt `attempt` when given). */
  async started(attempt?: number): Promise<Set<string>> {
    return new Set(
      (await this.read())
        .filter((m) => m.e === 'start' && (attempt === undefined || m.attempt === attempt))
        .map((m) => m.runId),
    );
  }
}

/**
 * A chaos agent's config: its pool, capacity and lease (renewed every 2 s), any `extra` lines, and the
 * chaos handler. Leases are long where a scenario's fault must not cost agents their leases.
 */
export function chaosAgentConfig(
  pool: string,
  { capacity, leaseTtlSeconds, extra = [] }: { capacity: number; leaseTtlSeconds: number; extra?: string[] },
): string {
  return [
    `pool: ${pool}`,
    `capacity: ${capacity}`,
    'heartbeatIntervalSeconds: 2',
    `leaseTtlSeconds: ${leaseTtlSeconds}`,
    ...extra,
    chaosHandlerConfig(),
  ].join('\n');
}

/** A job running the chaos handler in `pool`, its runs allowed to overlap, with `spec` over that. */
export function chaosJob(jobId: string, pool: string, spec: Partial<JobSpecInput> = {}): JobSpecInput {
  return { jobId, handler: 'chaos', target: { pool }, concurrency: { policy: 'ALLOW' }, ...spec };
}

/** Agents of one config started together, once each has logged `agent started`. */
export async function startChaosAgents(
  agents: AgentFleet,
  workerIds: readonly string[],
  options: Omit<StartAgentOptions, 'workerId'>,
): Promise<AgentProcess[]> {
  const fleet = await Promise.all(workerIds.map((workerId) => agents.start({ ...options, workerId })));
  await Promise.all(fleet.map((agent) => agent.waitForLog(/agent started/)));
  return fleet;
}

/** Agent config lines declaring the chaos handler (as `chaos`). */
export function chaosHandlerConfig(): string {
  return ['handlers:', '  chaos:', `    module: ${HANDLERS}`, '    export: chaos'].join('\n');
}

export interface Tally {
  readonly fires: number;
  readonly runs: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly problems: readonly string[];
}

/** Polls until every run is terminal (or the bound passes); returns the records as last read. */
export async function settled(plane: ControlPlane, runIds: Iterable<string>, timeoutMs = 180_000) {
  const ids = [...new Set(runIds)];
  const read = async () => Promise.all(ids.map(async (id) => (await plane.runs.get(id)) ?? id));
  return waitFor(
    read,
    (runs) => runs.every((run) => typeof run !== 'string' && isFinal(run)),
    'every fire to reach a terminal outcome',
    { timeoutMs, intervalMs: 250 },
  ).catch(async () => read());
}

/**
 * Counts a scenario (see the header for the definitions). `records` are the final reads of every
 * distinct fire (a string where no record exists); `extraRecords` are run records beyond one per
 * distinct fire that the scenario found (e.g. listByJob counts), if it checks for them.
 */
export function tally(
  fires: number,
  records: readonly (Run | string)[],
  marks: readonly Mark[],
  extraRecords = 0,
): Tally {
  const problems: string[] = [];
  let duplicates = extraRecords;
  let lost = 0;
  if (extraRecords > 0) problems.push(`${extraRecords} run record(s) beyond one per fire`);
  const byRun = new Map<string, Mark[]>();
  for (const mark of marks) byRun.set(mark.runId, [...(byRun.get(mark.runId) ?? []), mark]);
  const known = new Set(records.map((r) => (typeof r === 'string' ? r : r.runId)));
  for (const [runId, list] of byRun) {
    if (!known.has(runId)) {
      duplicates += list.filter((m) => m.e === 'start').length;
      problems.push(`${runId}: executed but no fire asked for it: ${JSON.stringify(list)}`);
    }
  }
  for (const record of records) {
    const runId = typeof record === 'string' ? record : record.runId;
    const list = byRun.get(runId) ?? [];
    const starts = list.filter((m) => m.e === 'start');
    const perAttempt = new Map<number, number>();
    for (const s of starts) perAttempt.set(s.attempt, (perAttempt.get(s.attempt) ?? 0) + 1);
    const sameAttempt = [...perAttempt.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
    const overlaps = list.filter((m) => m.e === 'overlap').length;
    const ends = list.filter((m) => m.e === 'end').length;
    const extra = sameAttempt + overlaps + Math.max(0, ends - 1);
    if (extra > 0) {
      duplicates += extra;
      problems.push(
        `${runId}: duplicate execution (same attempt again ${sameAttempt}, overlapping ${overlaps}, work done ${ends} times): ${JSON.stringify(list)}`,
      );
    }
    if (typeof record === 'string') {
      lost += 1;
      problems.push(`${runId}: no run record`);
    } else if (!isFinal(record)) {
      lost += 1;
      problems.push(`${runId}: still ${record.status}: ${JSON.stringify(record.history)}`);
    } else if (ends > 0 && record.status !== 'SUCCEEDED') {
      lost += 1;
      problems.push(
        `${runId}: its work ended but the record says ${record.status}: ${JSON.stringify(record)}`,
      );
    } else if (ends === 0 && record.status === 'SUCCEEDED') {
      lost += 1;
      problems.push(`${runId}: SUCCEEDED but its work never ended: ${JSON.stringify(list)}`);
    }
  }
  return { fires, runs: [...byRun.keys()].filter((id) => known.has(id)).length, duplicates, lost, problems };
}

/** Prints the scenario's line and fails the test unless duplicates and lost are both 0. */
export function report(name: string, counts: Tally): void {
  console.log(
    `scenario ${name}: fires ${counts.fires}, runs ${counts.runs}, duplicates ${counts.duplicates}, lost ${counts.lost}`,
  );
  assert.equal(
    counts.duplicates + counts.lost,
    0,
    `scenario ${name}: ${counts.problems.length} problem(s):\n${counts.problems.join('\n')}`,
  );
}

/**
 * Agents kept running like systemd's `Restart=always` would: whenever an agent's process exits (kill -9,
 * lost lease, crash) it is started again a second later with the same worker id and working directory
 * (so the same journal), unless the scenario holds it down (`kill9({ restart: false })`) or stops it.
 * Call `useSupervisor()` before `useAgents()`: its `after` hook then runs first and ends the restarts
 * before the harness kills the agents.
 */
export function useSupervisor() {
  const supervised: Supervised[] = [];
  after(() => {
    for (const agent of supervised) agent.stopRestarting();
  });
  return {
    async start(fleet: AgentFleet, options: StartAgentOptions): Promise<Supervised> {
      const first = await fleet.start(options);
      const agent = new Supervised(fleet, { ...options, dir: first.dir }, first);
      supervised.push(agent);
      return agent;
    },
  };
}

export class Supervised {
  restarts = 0;
  private held = false;
  private stopped = false;

  constructor(
    private readonly fleet: AgentFleet,
    private readonly options: StartAgentOptions,
    public current: AgentProcess,
  ) {
    this.watch();
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** kill -9 of the agent process; restarted at once unless `restart` is false (then call `restart()`). */
  async kill9(options: { restart: boolean }): Promise<void> {
    this.held = true;
    await this.current.kill();
    if (options.restart) await this.restart();
  }

  async restart(): Promise<AgentProcess> {
    this.held = false;
    this.restarts += 1;
    this.current = await this.fleet.start(this.options);
    this.watch();
    return this.current;
  }

  /** SIGTERM (drain) without a restart; resolves with the exit. */
  async stop() {
    this.stopped = true;
    this.current.signal('SIGTERM');
    return this.current.waitForExit(90_000);
  }

  stopRestarting(): void {
    this.stopped = true;
  }

  private watch(): void {
    const watched = this.current;
    void watched.exited.then(async (exit) => {
      if (this.held || this.stopped || watched !== this.current) return;
      const last = watched
        .lines()
        .filter((l) => l.level === 'error' || l.level === 'warn')
        .at(-1);
      console.log(
        `chaos: ${this.workerId} exited (${exit.code ?? exit.signal}; last warning: ${last?.message ?? 'none'}); restarting it`,
      );
      // systemd's RestartSec: the pause a supervisor leaves before restarting, not a wait for an event.
      await sleep(1000);
      if (!this.stopped && watched === this.current) await this.restart();
    });
  }
}
