/**
 * Which workers may take a job (eligibleWorkers, explainEligibility): pins, pools, labels, handlers,
 * status, capacity and leases, each exclusion with its reasons; a pin holds under every strategy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Worker } from './model';
import { eligibleWorkers, explainEligibility, orderCandidates, type RoutingJob } from './routing';
import { ids, job, NOW, shuffle, worker } from './testing/routing-fleet';
import { seeded } from './testing/seeded';

describe('eligibility', () => {
  const cases: {
    name: string;
    target?: Partial<RoutingJob['target']>;
    workers: Worker[];
    eligible: string[];
    excluded: Record<string, string>;
  }[] = [
    {
      name: 'pinned worker B is the only one eligible, however A looks',
      target: { workerIds: ['B'] },
      workers: [worker('A', { priority: 0 }), worker('B', { priority: 999, load: 3 })],
      eligible: ['B'],
      excluded: { A: 'not pinned' },
    },
    {
      name: 'pinned worker B gone: nothing eligible, and it says why',
      target: { workerIds: ['B'] },
      workers: [worker('A'), worker('C')],
      eligible: [],
      excluded: { A: 'not pinned', C: 'not pinned', B: 'not registered' },
    },
    {
      name: 'pinned worker B still listed but GONE',
      target: { workerIds: ['B'] },
      workers: [worker('A'), worker('B', { status: 'GONE' })],
      eligible: [],
      excluded: { A: 'not pinned', B: 'gone' },
    },
    {
      name: 'labels must all be present with equal values',
      target: { labels: { env: 'prod', zone: 'a' } },
      workers: [
        worker('ok', { labels: { env: 'prod', zone: 'a', extra: 'x' } }),
        worker('wrong-value', { labels: { env: 'dev', zone: 'a' } }),
        worker('missing', { labels: { zone: 'a' } }),
        worker('none'),
      ],
      eligible: ['ok'],
      excluded: { 'wrong-value': 'label env=prod', missing: 'label env=prod', none: 'label env=prod' },
    },
    {
      name: 'inherited object keys do not count as labels',
      target: { labels: { constructor: 'x' } },
      workers: [worker('plain')],
      eligible: [],
      excluded: { plain: 'label constructor=x' },
    },
    {
      name: 'handler',
      workers: [worker('has'), worker('lacks', { handlers: ['report.weekly'] })],
      eligible: ['has'],
      excluded: { lacks: 'missing handler' },
    },
    {
      name: 'pool',
      target: { pool: 'gpu' },
      workers: [worker('gpu-1', { pool: 'gpu' }), worker('cpu-1')],
      eligible: ['gpu-1'],
      excluded: { 'cpu-1': 'pool' },
    },
    {
      name: 'full: load at (or reported above) capacity',
      workers: [worker('free', { load: 3 }), worker('at', { load: 4 }), worker('over', { load: 9 })],
      eligible: ['free'],
      excluded: { at: 'full', over: 'full' },
    },
    {
      name: 'DRAINING takes nothing new, even with a valid lease',
      workers: [worker('active'), worker('draining', { status: 'DRAINING' })],
      eligible: ['active'],
      excluded: { draining: 'draining' },
    },
    {
      name: 'expired lease (expiry at now counts as expired)',
      workers: [
        worker('live'),
        worker('expired', { leaseExpiresAt: NOW - 1 }),
        worker('edge', { leaseExpiresAt: NOW }),
      ],
      eligible: ['live'],
      excluded: { expired: 'lease expired', edge: 'lease expired' },
    },
    {
      name: 'eligible sorted by (priority, workerId) whatever the input order',
      workers: [
        worker('c', { priority: 5 }),
        worker('b', { priority: 1 }),
        worker('a', { priority: 5 }),
        worker('d', { priority: 0 }),
      ],
      eligible: ['d', 'b', 'a', 'c'],
      excluded: {},
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const j = job('ROUND_ROBIN', c.target);
      const report = explainEligibility(j, c.workers, NOW);
      assert.deepEqual(ids(report.eligible), c.eligible);
      assert.deepEqual(ids(eligibleWorkers(j, c.workers, NOW)), c.eligible);
      assert.deepEqual(Object.fromEntries(report.excluded.map((e) => [e.workerId, e.reason])), c.excluded);
      for (const e of report.excluded) assert.equal(e.reasons[0], e.reason);
    });
  }

  test('every applicable reason is listed, the primary first', () => {
    const j = job('ROUND_ROBIN', { pool: 'p', labels: { env: 'prod' }, workerIds: ['other'] });
    const w = worker('bad', { status: 'DRAINING', handlers: [], load: 4 });
    const [exclusion] = explainEligibility(j, [w], NOW).excluded;
    assert.deepEqual(exclusion, {
      workerId: 'bad',
      reason: 'not pinned',
      reasons: ['not pinned', 'pool', 'draining', 'missing handler', 'label env=prod', 'full'],
    });
  });

  test('pinned worker B never yields A, whatever the strategy and state', () => {
    const random = seeded(7);
    for (const routing of ['ROUND_ROBIN', 'RANDOM', 'LEAST_LOADED', 'CONSISTENT_HASH', 'FIRST'] as const) {
      const j = job(routing, { workerIds: ['B'] });
      for (let fire = 0; fire < 100; fire++) {
        const workers = shuffle(
          [worker('A', { priority: 0, load: 0 }), worker('B', { load: fire % 4, priority: 50 })],
          random,
        );
        const order = orderCandidates(j, eligibleWorkers(j, workers, NOW), { lastWorkerId: 'A', random });
        assert.deepEqual(ids(order), ['B'], routing);
      }
    }
  });
});
