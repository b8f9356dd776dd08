import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamRef } from '../../model';
import type { DependencyJoins } from '../../ports';
import { T0, uniqueId } from './fixtures';

/** The DependencyJoins contract: arrivals per (job, chain), the first per upstream job kept, chains apart. */
export function dependencyJoinsContract(
  name: string,
  makeSubject: () => Promise<{ joins: DependencyJoins }>,
): void {
  describe(`DependencyJoins contract: ${name}`, () => {
    it('collects arrivals per chain, keeps the first per upstream job, and returns them all', async () => {
      const { joins } = await makeSubject();
      const job = uniqueId('join');
      const chain = `${uniqueId('root')}@2026-01-30T10:00:00Z`;
      const b: UpstreamRef = { runId: 'b@after:x', jobId: 'b', status: 'SUCCEEDED', result: { n: [1] } };
      const c: UpstreamRef = { runId: 'c@after:x', jobId: 'c', status: 'FAILED' };
      const first = await joins.arrive(job, chain, b, T0);
      assert.deepEqual([...first.entries()], [['b', b]]);
      const again = await joins.arrive(job, chain, { ...b, runId: 'b@later', status: 'FAILED' }, T0 + 1);
      assert.deepEqual(again.get('b'), b, 'the first arrival of an upstream job is kept');
      const both = await joins.arrive(job, chain, c, T0 + 2);
      assert.deepEqual(
        new Map([...both.entries()].sort()),
        new Map([
          ['b', b],
          ['c', c],
        ]),
      );
      const other = await joins.arrive(job, `${chain}-other`, c, T0 + 3);
      assert.deepEqual([...other.keys()], ['c'], 'chains are joined apart');
    });

    it('counts the distinct fires of a job per chain and minute, a repeated record once', async () => {
      const { joins } = await makeSubject();
      const job = uniqueId('loop');
      const chain = `${uniqueId('root')}@manual-1`;
      const minute = T0 - (T0 % 60_000);
      assert.equal(await joins.countFire(job, chain, minute, 'a'), 1);
      assert.equal(await joins.countFire(job, chain, minute, 'b'), 2);
      assert.equal(await joins.countFire(job, chain, minute, 'b'), 2, 'the same run counts once');
      assert.equal(await joins.countFire(job, chain, minute + 60_000, 'c'), 1, 'a new minute starts afresh');
      assert.equal(await joins.countFire(job, `${chain}-other`, minute, 'c'), 1, 'chains count apart');
      assert.equal(await joins.countFire(`${job}-other`, chain, minute, 'c'), 1, 'jobs count apart');
    });
  });
}
