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
  });
}
