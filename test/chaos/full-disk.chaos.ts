/**
 * Chaos: a full disk under the outage journal, while AWS is unreachable. The agent's journal lives on
 * its own tiny tmpfs (mounted by this test: it needs root, or CAP_SYS_ADMIN — the most faithful full
 * disk there is: every write gets ENOSPC from the kernel, as on a real full volume; `ulimit -f` would
 * give EFBIG and a SIGXFSZ, a read-only file EACCES, neither of which is what a full disk does). In
 * each of several cycles a seeded batch of runs executes on the agent; AWS is cut (an OutageProxy in
 * front of the emulator: connections reset); the disk is filled to the last byte; the runs' work
 * ends, so their outcomes and log lines can go neither to AWS nor to disk. Then, in a seeded order,
 * the disk is freed and AWS comes back. Every outcome must reach the ledger once AWS answers — none
 * lost, none applied twice — and the agent must keep serving.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { useEmulator } from '../harness';
import { useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { OutageProxy } from '../harness/outage-proxy';
import { waitFor } from '../harness/wait';
import { chaosHandlerConfig, chaosJob, chaosStage, report, settled, tally } from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'full-disk';
const CYCLES = 3;
let proxy: OutageProxy | undefined;
let mounted: string | undefined;
after(async () => {
  await proxy?.close();
  if (mounted) execFileSync('umount', ['-l', mounted]);
});

/** Mounts a tmpfs of `size` at `dir`; a clear error naming what is missing when it cannot. */
function mountTmpfs(dir: string, size: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(
      `full-disk needs to mount a small tmpfs (root or CAP_SYS_ADMIN; uid ${process.getuid?.()}): ${String(error)}`,
    );
  }
}

/** Writes zeros to `file` until the file system refuses with ENOSPC; returns the bytes written. */
async function fill(file: string): Promise<number> {
  const handle = await open(file, 'a');
  const block = Buffer.alloc(4096);
  let written = 0;
  try {
    for (;;) written += (await handle.write(block)).bytesWritten;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    // The last partial block: fill the remaining bytes one at a time.
    for (;;) {
      try {
        written += (await handle.write(Buffer.alloc(1))).bytesWritten;
      } catch {
        break;
      }
    }
  } finally {
    await handle.close().catch(() => {});
  }
  return written;
}

test('a full disk under the journal while AWS is unreachable: every outcome reaches the ledger once AWS answers, once', {
  timeout: 900_000,
}, async () => {
  const { chaos, marks, plane } = await chaosStage(aws, NAME, { workerCacheMs: 0 });
  proxy = await OutageProxy.start(aws.emulator.endpoint);
  const dir = await mkdtemp(join(tmpdir(), 'clover-agent-disk-'));
  const disk = join(dir, 'disk');
  await mkdir(disk);
  mountTmpfs(disk, '256k');
  mounted = disk;
  const filler = join(disk, 'filler');
  const agent = await agents.start({
    aws,
    workerId: 'disk-1',
    dir,
    endpoint: proxy.endpoint,
    env: marks.env,
    // A lease far longer than an outage: the agent keeps its runs through it.
    config: [
      `journalDir: ${join(disk, 'journal')}`,
      'pool: disk',
      'capacity: 8',
      'heartbeatIntervalSeconds: 2',
      'leaseTtlSeconds: 120',
      chaosHandlerConfig(),
    ].join('\n'),
  });
  await agent.waitForLog(/agent started/);
  const loop = monitorLoop(plane, 1000);
  await plane.jobService.define(
    chaosJob('disk', 'disk', { payload: { gate: marks.gate('cycle'), sleepMs: 20 }, timeoutSeconds: 900 }),
  );

  const runIds: string[] = [];
  for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
    const gate = marks.gate('cycle');
    const batch: string[] = [];
    for (let i = chaos.int(3, 6); i > 0; i -= 1) {
      const outcome = await plane.dispatcher.fire({ jobId: 'disk', trigger: 'MANUAL' });
      if (outcome.kind !== 'dispatched') throw new Error(JSON.stringify(outcome));
      batch.push(outcome.runs[0]!.runId);
    }
    runIds.push(...batch);
    await waitFor(
      () => marks.started(),
      (started) => batch.every((id) => started.has(id)),
      `cycle ${cycle}: the batch executing`,
      { timeoutMs: 120_000 },
    );
    proxy.cut();
    const bytes = await fill(filler);
    await writeFile(gate, 'go').catch(() => {}); // the gate lives on the normal disk
    // The work ends now; its outcome has nowhere to go but the agent's memory.
    await waitFor(
      async () => (await marks.read()).filter((m) => m.e === 'end' && batch.includes(m.runId)).length,
      (ended) => ended === batch.length,
      `cycle ${cycle}: the batch's work ended`,
      { timeoutMs: 120_000 },
    );
    const outcomesTried = () =>
      agent
        .lines()
        .filter(
          (l) =>
            batch.includes(String(l.runId)) &&
            /^(journaled outcome|journal append failed: outcome|outcome kept in memory)/.test(
              String(l.message),
            ),
        ).length;
    await waitFor(
      outcomesTried,
      (n) => n >= batch.length,
      `cycle ${cycle}: every outcome tried the journal`,
      {
        timeoutMs: 120_000,
      },
    );
    const freeFirst = chaos.random() < 0.5;
    if (freeFirst) await rm(filler);
    proxy.restore();
    if (!freeFirst) {
      await settled(plane, batch, 120_000);
      await rm(filler);
    }
    console.log(
      `chaos ${NAME}: cycle ${cycle}: ${batch.length} runs ended with AWS cut and the journal's disk full (${bytes} bytes filled); disk freed ${freeFirst ? 'before' : 'after'} AWS came back`,
    );
    await settled(plane, batch, 120_000);
    await rm(gate);
  }

  const records = await settled(plane, runIds, 60_000);
  await loop.stop();
  const counts = tally(runIds.length, records, await marks.read());
  const failedAppends = agent
    .lines()
    .filter((l) => String(l.message).startsWith('journal append failed')).length;
  console.log(`chaos ${NAME}: ${failedAppends} journal appends failed with the disk full`);
  agent.signal('SIGTERM');
  await agent.waitForExit(90_000);
  report(NAME, counts);
});
