/**
 * How each routing strategy orders the eligible workers (orderCandidates) over many fires: even
 * spreads, rings, ties, stable hashing, priorities, broadcast; and what every strategy keeps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoutingStrategy, Worker } from './model';
import { eligibleWorkers, orderCandidates, rendezvousWeight } from './routing';
import { ids, job, NOW, shuffle, worker } from './testing/routing-fleet';
import { seeded } from './testing/seeded';

const ratio = (w: Worker) => w.load / w.capacity;

function spread(counts: Map<string, number>): { min: number; max: number } {
  const values = [...counts.values()];
  return { min: Math.min(...values), max: Math.max(...values) };
}

const FIVE = ['w1', 'w2', 'w3', 'w4', 'w5'];
const FIRES = 1_000;

describe(`${FIRES} fires across ${FIVE.length} workers`, () => {
  test('ROUND_ROBIN spreads evenly (max - min <= 1) and walks the id ring', () => {
    const j = job('ROUND_ROBIN');
    const workers = shuffle(
      FIVE.map((id, i) => worker(id, { priority: 10 - i })),
      seeded(1),
    );
    const counts = new Map(FIVE.map((id) => [id, 0]));
    let lastWorkerId: string | undefined;
    const sequence: string[] = [];
    for (let fire = 0; fire < FIRES; fire++) {
      const [chosen] = orderCandidates(j, eligibleWorkers(j, workers, NOW), { lastWorkerId });
      assert.ok(chosen);
      counts.set(chosen.workerId, counts.get(chosen.workerId)! + 1);
      lastWorkerId = chosen.workerId;
      if (fire < 7) sequence.push(chosen.workerId);
    }
    const { min, max } = spread(counts);
    assert.ok(max - min <= 1, `spread ${min}..${max}`);
    assert.deepEqual(sequence, ['w1', 'w2', 'w3', 'w4', 'w5', 'w1', 'w2']);
  });

  test('ROUND_ROBIN with workers joining and leaving still spreads evenly over each stable stretch', () => {
    const j = job('ROUND_ROBIN');
    let lastWorkerId: string | undefined;
    const counts = new Map<string, number>();
    // w3 leaves for the middle 500 fires; the cursor may point at it when it leaves.
    for (let fire = 0; fire < FIRES; fire++) {
      const present = fire >= 250 && fire < 750 ? FIVE.filter((id) => id !== 'w3') : FIVE;
      const [chosen] = orderCandidates(
        j,
        present.map((id) => worker(id)),
        { lastWorkerId },
      );
      assert.ok(chosen);
      assert.ok(present.includes(chosen.workerId));
      if (fire >= 250 && fire < 750) counts.set(chosen.workerId, (counts.get(chosen.workerId) ?? 0) + 1);
      lastWorkerId = chosen.workerId;
    }
    assert.equal(counts.has('w3'), false);
    const { min, max } = spread(counts);
    assert.ok(max - min <= 1, `spread ${min}..${max}`);
  });

  const ringCases: { name: string; present: string[]; last?: string; expected: string[] }[] = [
    { name: 'no cursor starts at the smallest id', present: FIVE, expected: FIVE },
    { name: 'next after the cursor', present: FIVE, last: 'w2', expected: ['w3', 'w4', 'w5', 'w1', 'w2'] },
    { name: 'wraps after the largest id', present: FIVE, last: 'w5', expected: FIVE },
    {
      name: 'cursor gone: smallest id greater than it',
      present: ['w1', 'w2', 'w4', 'w5'],
      last: 'w3',
      expected: ['w4', 'w5', 'w1', 'w2'],
    },
    {
      name: 'cursor gone and greatest: wraps',
      present: ['w1', 'w2', 'w4'],
      last: 'w9',
      expected: ['w1', 'w2', 'w4'],
    },
  ];
  for (const c of ringCases) {
    test(`ROUND_ROBIN ring: ${c.name}`, () => {
      const order = orderCandidates(
        job('ROUND_ROBIN'),
        c.present.map((id) => worker(id)),
        { lastWorkerId: c.last },
      );
      assert.deepEqual(ids(order), c.expected);
    });
  }

  test('RANDOM: each worker within 200 ± 50 (seeded), fallbacks in ring order', () => {
    const j = job('RANDOM');
    const random = seeded(42);
    const eligible = eligibleWorkers(
      j,
      FIVE.map((id) => worker(id)),
      NOW,
    );
    const counts = new Map(FIVE.map((id) => [id, 0]));
    for (let fire = 0; fire < FIRES; fire++) {
      const order = orderCandidates(j, eligible, { random });
      const first = order[0]!;
      counts.set(first.workerId, counts.get(first.workerId)! + 1);
      const start = FIVE.indexOf(first.workerId);
      assert.deepEqual(ids(order), [...FIVE.slice(start), ...FIVE.slice(0, start)]);
    }
    for (const [id, count] of counts) assert.ok(count >= 150 && count <= 250, `${id}: ${count}`);
  });

  test('RANDOM maps [0,1) onto the ring, and survives a source returning 1', () => {
    const eligible = FIVE.map((id) => worker(id));
    const table: [number, string][] = [
      [0, 'w1'],
      [0.199, 'w1'],
      [0.2, 'w2'],
      [0.999999, 'w5'],
      [1, 'w5'],
    ];
    for (const [r, expected] of table) {
      assert.equal(
        orderCandidates(job('RANDOM'), eligible, { random: () => r })[0]?.workerId,
        expected,
        `${r}`,
      );
    }
  });

  test('LEAST_LOADED never picks a full worker and always picks a minimum-ratio worker', () => {
    const j = job('LEAST_LOADED');
    const random = seeded(2024);
    const capacities = [1, 2, 4, 4, 8];
    const fleet = new Map(FIVE.map((id, i) => [id, worker(id, { capacity: capacities[i]! })]));
    const setLoad = (id: string, delta: number) => {
      const w = fleet.get(id)!;
      fleet.set(id, { ...w, load: w.load + delta });
    };
    let picks = 0;
    let firesWithFullWorkers = 0;
    for (let fire = 0; fire < FIRES; fire++) {
      // Random completions: each running run finishes with probability 0.3.
      for (const w of fleet.values()) {
        for (let run = 0; run < w.load; run++) if (random() < 0.3) setLoad(w.workerId, -1);
      }
      const workers = [...fleet.values()];
      if (workers.some((w) => w.load >= w.capacity)) firesWithFullWorkers++;
      const eligible = eligibleWorkers(j, workers, NOW);
      const order = orderCandidates(j, eligible, {});
      if (eligible.length === 0) {
        assert.deepEqual(order, []);
        continue;
      }
      const chosen = order[0]!;
      assert.ok(chosen.load < chosen.capacity, `fire ${fire}: ${chosen.workerId} is full`);
      const best = Math.min(...eligible.map(ratio));
      assert.equal(ratio(chosen), best, `fire ${fire}: ${chosen.workerId} is not least loaded`);
      // Ties by lower absolute load, then id.
      const tied = eligible.filter((w) => ratio(w) === best).sort((a, b) => a.load - b.load);
      assert.equal(chosen.load, tied[0]!.load);
      setLoad(chosen.workerId, +1);
      picks++;
    }
    assert.ok(picks > FIRES / 2, `only ${picks} picks`);
    assert.ok(firesWithFullWorkers > 100, `only ${firesWithFullWorkers} fires saw a full worker`);
  });

  test('LEAST_LOADED ties: lower absolute load, then lower id', () => {
    const table: { workers: Worker[]; expected: string }[] = [
      {
        workers: [worker('a', { load: 2, capacity: 4 }), worker('b', { load: 1, capacity: 2 })],
        expected: 'b',
      },
      {
        workers: [worker('b', { load: 1, capacity: 4 }), worker('a', { load: 1, capacity: 4 })],
        expected: 'a',
      },
      {
        workers: [worker('a', { load: 0, capacity: 1 }), worker('b', { load: 0, capacity: 8 })],
        expected: 'a',
      },
      {
        workers: [worker('a', { load: 1, capacity: 3 }), worker('b', { load: 2, capacity: 8 })],
        expected: 'b',
      },
    ];
    for (const { workers, expected } of table) {
      assert.equal(orderCandidates(job('LEAST_LOADED'), workers, {})[0]?.workerId, expected);
    }
  });

  test('CONSISTENT_HASH: the same job always lands on the same worker, whatever the input order', () => {
    const j = job('CONSISTENT_HASH');
    const random = seeded(9);
    const workers = FIVE.map((id) => worker(id));
    const first = orderCandidates(j, workers, {})[0]!.workerId;
    for (let fire = 0; fire < FIRES; fire++) {
      const order = orderCandidates(j, shuffle(workers, random), { lastWorkerId: FIVE[fire % 5], random });
      assert.equal(order[0]!.workerId, first);
    }
  });

  describe('CONSISTENT_HASH over 200 job ids', () => {
    const jobIds = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    const place = (workerIds: readonly string[]) =>
      new Map(
        jobIds.map((jobId) => {
          const order = orderCandidates(
            { ...job('CONSISTENT_HASH'), jobId },
            workerIds.map((id) => worker(id)),
            {},
          );
          return [jobId, order[0]!.workerId];
        }),
      );
    const before = place(FIVE);

    test('spreads jobs over all workers', () => {
      const counts = new Map<string, number>();
      for (const id of before.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
      assert.equal(counts.size, 5);
      for (const [id, count] of counts) assert.ok(count >= 20 && count <= 70, `${id}: ${count}`);
    });

    for (const removed of FIVE) {
      test(`removing ${removed} moves only the jobs that were on it`, () => {
        const after = place(FIVE.filter((id) => id !== removed));
        for (const jobId of jobIds) {
          if (before.get(jobId) === removed) assert.notEqual(after.get(jobId), removed);
          else assert.equal(after.get(jobId), before.get(jobId), jobId);
        }
      });
    }

    test('adding a sixth worker moves roughly 1/6 of the jobs (< 35%), all onto the new worker', () => {
      const after = place([...FIVE, 'w6']);
      const moved = jobIds.filter((jobId) => after.get(jobId) !== before.get(jobId));
      assert.ok(moved.length > 0 && moved.length < 200 * 0.35, `${moved.length} of 200 moved`);
      for (const jobId of moved) assert.equal(after.get(jobId), 'w6');
    });
  });

  test('rendezvousWeight is deterministic, 64-bit and sensitive to both ids', () => {
    const w = rendezvousWeight('job-1', 'w1');
    assert.equal(rendezvousWeight('job-1', 'w1'), w);
    assert.ok(w >= 0n && w < 1n << 64n);
    assert.notEqual(rendezvousWeight('job-1', 'w2'), w);
    assert.notEqual(rendezvousWeight('job-2', 'w1'), w);
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert.notEqual(rendezvousWeight('ab', 'c'), rendezvousWeight('a', 'bc'));
  });

  test('FIRST always picks the lowest (priority, workerId), fallbacks in ring order', () => {
    const j = job('FIRST');
    const random = seeded(5);
    const priorities = [30, 10, 20, 10, 40];
    const workers = FIVE.map((id, i) => worker(id, { priority: priorities[i]! }));
    for (let fire = 0; fire < FIRES; fire++) {
      const loaded = workers.map((w) => ({ ...w, load: Math.floor(random() * 4) }));
      const order = orderCandidates(j, eligibleWorkers(j, shuffle(loaded, random), NOW), {
        lastWorkerId: FIVE[fire % 5],
        random,
      });
      assert.deepEqual(ids(order), ['w2', 'w3', 'w4', 'w5', 'w1']);
    }
  });

  test('FIRST skips a full lowest-priority worker and picks the next', () => {
    const j = job('FIRST');
    const workers = [worker('w1', { priority: 0, load: 4 }), worker('w2', { priority: 1 }), worker('w3')];
    assert.equal(orderCandidates(j, eligibleWorkers(j, workers, NOW), {})[0]?.workerId, 'w2');
  });

  test('FAILOVER tries every eligible worker in (priority, workerId) order', () => {
    const j = job('FAILOVER');
    const priorities = [30, 10, 20, 10, 40];
    const workers = FIVE.map((id, i) => worker(id, { priority: priorities[i]! }));
    const random = seeded(11);
    for (let fire = 0; fire < FIRES; fire++) {
      const order = orderCandidates(j, shuffle(workers, random), { lastWorkerId: FIVE[fire % 5], random });
      assert.deepEqual(ids(order), ['w2', 'w4', 'w3', 'w1', 'w5']);
    }
  });

  test('BROADCAST returns every eligible worker, and only those', () => {
    const j = job('BROADCAST');
    const workers = [...FIVE.map((id) => worker(id)), worker('w6', { status: 'DRAINING' })];
    const random = seeded(13);
    for (let fire = 0; fire < FIRES; fire++) {
      const order = orderCandidates(j, eligibleWorkers(j, shuffle(workers, random), NOW), { random });
      assert.deepEqual(ids(order), FIVE);
    }
  });

  test('ANY returns [] (the pool queue)', () => {
    assert.deepEqual(
      orderCandidates(
        job('ANY'),
        FIVE.map((id) => worker(id)),
        {},
      ),
      [],
    );
  });
});

describe('candidates', () => {
  const strategies = [
    'ROUND_ROBIN',
    'RANDOM',
    'LEAST_LOADED',
    'CONSISTENT_HASH',
    'FIRST',
    'FAILOVER',
    'BROADCAST',
  ];
  for (const routing of strategies as RoutingStrategy[]) {
    test(`${routing}: a permutation of the eligible workers; none when none are eligible; input untouched`, () => {
      const eligible = shuffle(
        FIVE.map((id, i) => worker(id, { priority: i % 2, load: i % 3 })),
        seeded(3),
      );
      const snapshot = ids(eligible);
      const order = orderCandidates(job(routing), eligible, { lastWorkerId: 'w3', random: seeded(4) });
      assert.deepEqual(ids(order).sort(), [...FIVE]);
      assert.deepEqual(ids(eligible), snapshot);
      assert.deepEqual(orderCandidates(job(routing), [], { lastWorkerId: 'w3' }), []);
    });
  }
});
