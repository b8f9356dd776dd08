/**
 * Precise jobs' planning and deciding (core/planner.ts, Dispatcher.plan, Dispatcher.fireLocal with a
 * plan) on the in-memory control plane with a hand-driven clock; the real-agent proof is
 * test/precise/precise.test.ts. Also the bad input a precise job is refused for, naming the field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError, ValidationError } from './errors';
import { silentLogger } from './log';
import { ABANDONED_DECISION_MS, isoSeconds, type JobSpecInput, jobLockKey } from './model';
import { Planner } from './planner';
import type { PreciseMark } from './ports';
import { alertingWorld, WORLD_T0 } from './testing/alerting-world';

const PRECISE: Partial<JobSpecInput> = {
  jobId: 'tick',
  precision: 'SECOND',
  schedule: { expression: '*/5 * * * * ?' },
  contacts: [],
};

async function preciseWorld() {
  const world = alertingWorld({ leaseMs: 600_000 });
  await world.worker('w1', { features: ['precise'] });
  await world.worker('w2', { features: ['precise'] });
  const planner = new Planner({ ...world, log: silentLogger });
  return { ...world, planner };
}

function issuesOf(error: unknown): string[] {
  assert.ok(error instanceof ValidationError, String(error));
  return error.issues.map((i) => `${i.field}: ${i.reason}`);
}

describe('precise jobs: bad input is refused naming the field', () => {
  test('seconds in a REMOTE cron that is not precise', async () => {
    const world = await preciseWorld();
    const error = await world.jobService
      .define({ jobId: 'x', handler: 'reports.daily', schedule: { expression: '*/5 * * * * ?' } })
      .catch((e: unknown) => e);
    assert.match(issuesOf(error).join('\n'), /^schedule\.expression: .*precision SECOND for a REMOTE job/m);
    assert.equal(await world.jobs.get('x'), null, 'nothing written');
  });

  test('a lead longer than allowed, a lead without precision, precision on a LOCAL job, BROADCAST', async () => {
    const world = await preciseWorld();
    const cases: [Partial<JobSpecInput>, RegExp][] = [
      [{ ...PRECISE, leadSeconds: 901 }, /^leadSeconds: must be at most 900/m],
      [{ ...PRECISE, leadSeconds: 60 }, /^leadSeconds: must be at least 120/m],
      [
        { ...PRECISE, precision: 'MINUTE', schedule: { expression: 'rate(1 minute)' }, leadSeconds: 200 },
        /^leadSeconds: applies only with precision SECOND/m,
      ],
      [{ ...PRECISE, mode: 'LOCAL' }, /^precision: SECOND is for REMOTE jobs/m],
      [{ ...PRECISE, routing: 'BROADCAST' }, /^routing: BROADCAST cannot be used with precision SECOND/m],
    ];
    for (const [spec, expected] of cases) {
      const error = await world.jobService
        .define({ handler: 'reports.daily', ...spec })
        .catch((e: unknown) => e);
      assert.match(issuesOf(error).join('\n'), expected);
    }
    assert.equal(await world.jobs.get('tick'), null, 'nothing written');
  });

  test('a precise job on a pool with no agent that supports it', async () => {
    const world = alertingWorld();
    await world.worker('old', {}); // an agent without the `precise` feature
    const error = await world.jobService
      .define({ handler: 'reports.daily', ...PRECISE })
      .catch((e: unknown) => e);
    assert.match(
      issuesOf(error).join('\n'),
      /^precision: SECOND needs an agent .*no live agent of pool default supports precise jobs \(old/m,
    );
    assert.equal(await world.jobs.get('tick'), null, 'nothing written');
    assert.equal(
      (await world.jobService.define({ handler: 'reports.daily', ...PRECISE, paused: true })).spec.paused,
      true,
      'defined paused it is accepted',
    );
  });
});

describe('precise jobs: planned ahead, decided at the instant', () => {
  test('a pass plans the lead window once whatever the passes repeat; no EventBridge schedule', async () => {
    const world = await preciseWorld();
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
    assert.deepEqual(await world.schedules.list(), [], 'precise jobs have no schedule of their own');
    const first = await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    assert.equal(first.planned, 36, '180 s of */5 s instants');
    const again = await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    assert.equal(again.planned, 0, 'a duplicate invocation plans nothing new');
    assert.equal(world.delivery.delivered.length, 36, 'one plan envelope per fire');
    const envelope = world.delivery.delivered[0]?.envelope;
    assert.equal(envelope?.startAt, WORLD_T0 + 5000);
    const placeholder = await world.runs.get(`tick@${isoSeconds(WORLD_T0 + 5000)}`);
    assert.equal(placeholder?.status, 'PENDING');
    assert.equal(placeholder?.reason, 'planned');
  });

  test('a later pass writes nothing for fires it lists held by a live worker', async () => {
    const world = await preciseWorld();
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
    await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    const { runs } = world;
    const create = runs.create.bind(runs);
    const written: string[] = [];
    runs.create = async (run) => {
      written.push(run.runId);
      return create(run);
    };
    world.clock.advance(60_000);
    const next = await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0 + 60_000) });
    assert.equal(next.alreadyPlanned, 24, 'the 24 placeholders still ahead, found in the listing');
    assert.equal(next.planned, 12, 'the 60 s that entered the window');
    const listed = Array.from({ length: 24 }, (_, i) => `tick@${isoSeconds(WORLD_T0 + 65_000 + i * 5000)}`);
    const rewritten = written.filter((runId) => listed.includes(runId));
    assert.deepEqual(rewritten, [], 'no write for a listed fire whose worker is live');
    assert.equal(
      written.length,
      13,
      'the 12 new fires and the latest missed one (FIRE_ONCE_NOW) planned again',
    );
  });

  test('the holder decides at the instant: one run per fire, a stale plan or a second decision changes nothing', async () => {
    const world = await preciseWorld();
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
    await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    const sent = world.delivery.delivered[0];
    assert.ok(sent?.envelope.startAt !== undefined && sent.target.kind === 'worker');
    const holder = sent.target.worker.workerId;
    world.clock.t = sent.envelope.startAt;
    const decided = await world.dispatcher.fireLocal('tick', sent.envelope.scheduledTime, holder, {
      plan: sent.envelope.fence,
    });
    assert.equal(decided.kind, 'dispatched');
    const again = await world.dispatcher.fireLocal('tick', sent.envelope.scheduledTime, holder, {
      plan: sent.envelope.fence,
    });
    assert.equal(again.kind, 'duplicate', 'the plan is decided once');
    const run = await world.runs.get(sent.envelope.runId);
    assert.equal(run?.status, 'DISPATCHED');
    assert.equal(run?.fence, sent.envelope.fence + 1, 'a fence no envelope of the placeholder can claim');
    assert.equal(run?.trigger, 'SCHEDULE');
  });

  test('paused before the instant: SKIPPED(paused); an edit that drops the instant: SKIPPED(unscheduled)', async () => {
    const world = await preciseWorld();
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
    await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    const [first, second] = world.delivery.delivered;
    assert.ok(first && second);
    world.clock.t = (first.envelope.startAt ?? 0) - 10_000;
    await world.jobService.setPaused('tick', true);
    world.clock.t = first.envelope.startAt ?? 0;
    const paused = await world.dispatcher.fireLocal('tick', first.envelope.scheduledTime, 'w1', {
      plan: first.envelope.fence,
    });
    assert.equal(paused.kind, 'skipped');
    assert.equal((await world.runs.get(first.envelope.runId))?.reason, 'paused');

    const job = await world.jobService.get('tick');
    await world.jobService.define({ ...job.spec, paused: false, schedule: { expression: '*/7 * * * * ?' } });
    world.clock.t = second.envelope.startAt ?? 0;
    const dropped = await world.dispatcher.fireLocal('tick', second.envelope.scheduledTime, 'w1', {
      plan: second.envelope.fence,
    });
    assert.equal(dropped.kind, 'skipped');
    assert.equal((await world.runs.get(second.envelope.runId))?.reason, 'unscheduled');
  });

  test('a holder that dies: its plans move to a live worker; missed ones follow the misfire policy', async () => {
    const world = await preciseWorld();
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
    await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    const heldBy = (runId: string) => world.runs.get(runId).then((r) => r?.workerId);
    const firstId = `tick@${isoSeconds(WORLD_T0 + 5000)}`;
    const lastId = `tick@${isoSeconds(WORLD_T0 + 180_000)}`;
    const dead = (await heldBy(lastId)) as string;
    const live = dead === 'w1' ? 'w2' : 'w1';
    const worker = await world.registry.get(dead);
    assert.ok(worker);
    assert.ok(await world.registry.expire(dead, worker.leaseFence, WORLD_T0 + 601_000));
    // 60 s later: plans of `dead` still ahead go to `live`; those passed > 30 s ago are missed.
    world.clock.t = WORLD_T0 + 60_000;
    const report = await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0 + 60_000) });
    assert.equal(await heldBy(lastId), live, 'a plan ahead moved to the live worker');
    assert.ok(report.missedSkipped > 0, 'missed fires other than the latest skipped');
    assert.equal(report.missedFired, 1, 'the latest missed fire planned again to start at once');
    const skippedFirst = await world.runs.get(firstId);
    assert.equal(skippedFirst?.status, 'SKIPPED');
    assert.equal(skippedFirst?.reason, 'misfire');
  });

  test('a decider that dies between the lock and the run: after ABANDONED_DECISION_MS the next fire settles its fire SKIPPED(misfire) and runs; the decider, if only slow, is refused', async () => {
    const world = await preciseWorld();
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE }); // FORBID
    await world.planner.plan({ scheduledTime: isoSeconds(WORLD_T0) });
    const [first, second, third] = world.delivery.delivered.map(({ envelope, target }) => ({
      ...envelope,
      holder: target.kind === 'worker' ? target.worker.workerId : '',
    }));
    assert.ok(first && second && third);
    // The first fire's decider takes the job's lock, then dies before the run is written over the placeholder.
    world.clock.t = first.startAt ?? 0;
    const create = world.runs.create.bind(world.runs);
    world.runs.create = async () => {
      world.runs.create = create;
      throw new UnavailableError('the agent died here');
    };
    await assert.rejects(
      world.dispatcher.fireLocal('tick', first.scheduledTime, first.holder, { plan: first.fence }),
    );
    assert.equal((await world.locks.get(jobLockKey('tick')))?.owner, first.runId);
    assert.equal((await world.runs.get(first.runId))?.reason, 'planned', 'still its placeholder');
    // 5 s later (the next instant), the lock is as old as ABANDONED_DECISION_MS allows a decision.
    world.clock.t = (first.startAt ?? 0) + ABANDONED_DECISION_MS - 1;
    const young = await world.dispatcher.fireLocal('tick', second.scheduledTime, second.holder, {
      plan: second.fence,
    });
    assert.equal(
      young.kind === 'skipped' && young.run.reason,
      'overlap',
      'a young lock may be a decider mid-way',
    );
    world.clock.t = third.startAt ?? 0;
    const next = await world.dispatcher.fireLocal('tick', third.scheduledTime, third.holder, {
      plan: third.fence,
    });
    assert.equal(next.kind, 'dispatched', JSON.stringify(next));
    const abandoned = await world.runs.get(first.runId);
    assert.equal(abandoned?.status, 'SKIPPED');
    assert.equal(abandoned?.reason, 'misfire');
    assert.equal((await world.locks.get(jobLockKey('tick')))?.owner, third.runId);
    // The first decider, had it been only slow, cannot write its run now: the fire never runs unlocked.
    const late = await world.dispatcher.fireLocal('tick', first.scheduledTime, first.holder, {
      plan: first.fence,
    });
    assert.equal(late.kind, 'duplicate');
    assert.equal((await world.runs.get(first.runId))?.status, 'SKIPPED');
  });
});

describe('quiet passes: an idle planner reads the precise mark and nothing else', () => {
  const MINUTE = 60_000;

  /** A world whose precise agent outlives the test, and a planner whose reads are counted. */
  async function countedWorld() {
    const world = alertingWorld({ leaseMs: 24 * 3_600_000 });
    await world.worker('w1', { features: ['precise'] });
    const reads = { jobs: 0, placeholders: 0 };
    const jobs = {
      preciseMark: () => world.jobs.preciseMark(),
      quietPrecise: (seen: PreciseMark, until: number) => world.jobs.quietPrecise(seen, until),
      list: () => {
        reads.jobs += 1;
        return world.jobs.list();
      },
    };
    const runs = {
      transition: world.runs.transition.bind(world.runs),
      listByStatus: (...args: Parameters<typeof world.runs.listByStatus>) => {
        reads.placeholders += 1;
        return world.runs.listByStatus(...args);
      },
    };
    const planner = new Planner({ ...world, jobs, runs, log: silentLogger });
    const pass = (at: number) => {
      world.clock.t = at;
      return planner.plan({ scheduledTime: isoSeconds(at) });
    };
    return { ...world, reads, jobs, pass };
  }

  test('no precise job: one pass reads, the next only the mark; a job turned precise is planned at the next pass', async () => {
    const world = await countedWorld();
    await world.jobService.define({ jobId: 'plain', handler: 'reports.daily', contacts: [] });
    await world.pass(WORLD_T0);
    assert.deepEqual(world.reads, { jobs: 1, placeholders: 1 });
    for (let m = 1; m <= 5; m += 1) await world.pass(WORLD_T0 + m * MINUTE);
    assert.deepEqual(world.reads, { jobs: 1, placeholders: 1 }, 'quiet with no precise job');

    world.clock.t = WORLD_T0 + 5 * MINUTE + 30_000;
    await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
    const report = await world.pass(WORLD_T0 + 6 * MINUTE);
    assert.deepEqual(world.reads, { jobs: 2, placeholders: 2 });
    assert.equal(report.planned, 36, 'its whole window, at the first pass after the define');
  });

  test('a precise job due later: quiet until a period before the pass whose window reaches its instant', async () => {
    const world = await countedWorld();
    const due = new Date(WORLD_T0 + 30 * MINUTE);
    await world.jobService.define({
      ...PRECISE,
      handler: 'reports.daily',
      schedule: { expression: `0 ${due.getUTCMinutes()} ${due.getUTCHours()} * * ?` },
    });
    const readAt: number[] = [];
    const plannedAt: number[] = [];
    for (let m = 0; m <= 27; m += 1) {
      const before = world.reads.jobs;
      const report = await world.pass(WORLD_T0 + m * MINUTE);
      if (world.reads.jobs > before) readAt.push(m);
      if (report.planned > 0) plannedAt.push(m);
    }
    // The lead is 180 s: the pass at minute 27 plans the instant at minute 30; the one before it reads too.
    assert.deepEqual(readAt, [0, 26, 27]);
    assert.deepEqual(plannedAt, [27]);
    await world.pass(WORLD_T0 + 28 * MINUTE);
    assert.equal(world.reads.jobs, 4, 'a placeholder to watch: every pass reads');
  });

  test('a job turned precise while a pass reads the jobs: the pass cannot go quiet, the next plans it', async () => {
    const world = await countedWorld();
    const list = world.jobs.list;
    world.jobs.list = async () => {
      const listed = await list();
      // Defined after the pass read the jobs, before it records its quiet instant.
      if (world.reads.jobs === 1) await world.jobService.define({ handler: 'reports.daily', ...PRECISE });
      return listed;
    };
    assert.equal((await world.pass(WORLD_T0)).planned, 0, 'the pass read no precise job');
    assert.equal((await world.jobs.preciseMark()).quietUntil, undefined, 'and recorded no quiet instant');
    assert.equal((await world.pass(WORLD_T0 + MINUTE)).planned, 36);
  });
});
