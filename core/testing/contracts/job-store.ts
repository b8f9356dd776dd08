import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphChangedError, NotFoundError, VersionConflictError } from '../../errors';
import { type JobStore, jobStamp } from '../../ports';
import { sampleJob, uniqueId } from './fixtures';

/** The JobStore contract: optimistic concurrency on `version`, typed errors carrying what was found. */
export function jobStoreContract(name: string, makeSubject: () => Promise<{ jobs: JobStore }>): void {
  describe(`JobStore contract: ${name}`, () => {
    it('creates, reads back the same job, and lists it', async () => {
      const { jobs } = await makeSubject();
      const job = sampleJob();
      await jobs.put(job, 0);
      assert.deepEqual(await jobs.get(job.spec.jobId), job);
      const listed = await jobs.list();
      assert.deepEqual(
        listed.find((j) => j.spec.jobId === job.spec.jobId),
        job,
      );
      assert.equal(await jobs.get('no-such-job'), null);
    });

    it('lists the LOCAL jobs of one pool, and follows a change of mode, pool or a delete', async () => {
      const { jobs } = await makeSubject();
      const pool = uniqueId('pool');
      const local = (id: string) => sampleJob({ jobId: uniqueId(id), mode: 'LOCAL', target: { pool } });
      const [a, b] = [local('b-local'), local('a-local')];
      const remote = sampleJob({ target: { pool } });
      const elsewhere = sampleJob({ mode: 'LOCAL', target: { pool: uniqueId('pool') } });
      for (const job of [a, b, remote, elsewhere]) await jobs.put(job, 0);
      const ids = async () => (await jobs.listLocal(pool)).map((job) => job.spec.jobId);
      assert.deepEqual(await ids(), [b.spec.jobId, a.spec.jobId]);
      assert.deepEqual((await jobs.listLocal(pool))[1], a);

      await jobs.put({ ...a, version: 2, spec: { ...a.spec, mode: 'REMOTE' } }, 1);
      await jobs.put({ ...remote, version: 2, spec: { ...remote.spec, mode: 'LOCAL' } }, 1);
      await jobs.delete(b.spec.jobId);
      assert.deepEqual(await ids(), [remote.spec.jobId]);
      assert.deepEqual(await jobs.listLocal(uniqueId('pool')), []);
    });

    it('lists the jobs updated since an instant, following edits and deletes', async () => {
      const { jobs } = await makeSubject();
      // Far in the future, so jobs other tests wrote to a shared table do not show.
      const t = Date.UTC(2090, 0, 1);
      const at = (id: string, updatedAt: number) => ({ ...sampleJob({ jobId: uniqueId(id) }), updatedAt });
      const [old, recent, edited, gone] = [
        at('old', t - 1),
        at('recent', t),
        at('edited', t - 5),
        at('gone', t + 1),
      ];
      for (const job of [old, recent, edited, gone]) await jobs.put(job, 0);
      await jobs.put({ ...edited, version: 2, updatedAt: t + 2, spec: { ...edited.spec, paused: true } }, 1);
      await jobs.delete(gone.spec.jobId);
      const since = await jobs.listUpdatedSince(t);
      assert.deepEqual(
        since.map((j) => [j.spec.jobId, j.version, j.spec.paused]),
        [
          [edited.spec.jobId, 2, true],
          [recent.spec.jobId, 1, false],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      assert.deepEqual(
        since.find((j) => j.spec.jobId === recent.spec.jobId),
        recent,
      );
      assert.deepEqual(await jobs.listUpdatedSince(t + 3), []);
    });

    it('refuses a second create with the version found', async () => {
      const { jobs } = await makeSubject();
      const job = sampleJob();
      await jobs.put(job, 0);
      await assert.rejects(jobs.put(job, 0), (error: unknown) => {
        assert.ok(error instanceof VersionConflictError);
        assert.equal(error.expectedVersion, 0);
        assert.equal(error.currentVersion, 1);
        return true;
      });
    });

    it('replaces only at the expected version', async () => {
      const { jobs } = await makeSubject();
      const v1 = sampleJob();
      await jobs.put(v1, 0);
      const v2 = { ...v1, version: 2, spec: { ...v1.spec, description: 'second' } };
      await jobs.put(v2, 1);
      assert.equal((await jobs.get(v1.spec.jobId))?.spec.description, 'second');
      await assert.rejects(jobs.put({ ...v2, version: 3 }, 1), (error: unknown) => {
        assert.ok(error instanceof VersionConflictError);
        assert.equal(error.currentVersion, 2);
        return true;
      });
      await assert.rejects(jobs.put(sampleJob({}, 2), 1), NotFoundError);
    });

    it('writes only while every job it was given as read is unchanged (or still absent), in one atomic write', async () => {
      const { jobs } = await makeSubject();
      const upstream = sampleJob();
      await jobs.put(upstream, 0);
      const missing = uniqueId('missing');
      const asRead = [
        { jobId: upstream.spec.jobId, version: 1, updatedAt: upstream.updatedAt },
        { jobId: missing, absent: true as const },
      ];
      const job = sampleJob({ after: [{ jobId: upstream.spec.jobId, on: 'SUCCEEDED' }] });
      await jobs.put(job, 0, asRead);
      assert.deepEqual(await jobs.get(job.spec.jobId), job);

      // The upstream moved on (a new version), then the missing job appeared: each fails the write, which changes nothing.
      const next = { ...job, version: 2, spec: { ...job.spec, description: 'second' } };
      await jobs.put({ ...upstream, version: 2, updatedAt: upstream.updatedAt + 1 }, 1);
      const changed = (id: string) => (error: unknown) => {
        assert.ok(error instanceof GraphChangedError);
        assert.equal(error.code, 'version_conflict');
        assert.equal(error.changedJobId, id);
        return true;
      };
      await assert.rejects(jobs.put(next, 1, asRead), changed(upstream.spec.jobId));
      await jobs.put(sampleJob({ jobId: missing }), 0);
      const reread = [
        { jobId: upstream.spec.jobId, version: 2, updatedAt: upstream.updatedAt + 1 },
        asRead[1]!,
      ];
      await assert.rejects(jobs.put(next, 1, reread), changed(missing));
      assert.deepEqual(await jobs.get(job.spec.jobId), job);
      // The job's own version is still checked first.
      await assert.rejects(jobs.put(next, 5, reread.slice(0, 1)), VersionConflictError);
      await jobs.put(next, 1, reread.slice(0, 1));
      assert.equal((await jobs.get(job.spec.jobId))?.spec.description, 'second');
    });

    it('moves the precise mark with each put of a precise job, in the same write; a quiet mark holds only for the generation it saw', async () => {
      const { jobs } = await makeSubject();
      const quietUntil = Date.UTC(2090, 0, 1);
      const seen = await jobs.preciseMark();
      const plain = sampleJob();
      await jobs.put(plain, 0);
      assert.deepEqual(await jobs.preciseMark(), seen, 'a job that is not precise leaves it');
      assert.equal(await jobs.quietPrecise(seen, quietUntil), true);
      assert.deepEqual(await jobs.preciseMark(), { generation: seen.generation, quietUntil });

      const precise = sampleJob({
        precision: 'SECOND',
        schedule: { expression: '*/5 * * * * ?' },
        paused: true,
      });
      await jobs.put(precise, 0);
      const moved = await jobs.preciseMark();
      assert.deepEqual(
        moved,
        { generation: seen.generation + 1 },
        'paused or not: the next pass reads the jobs',
      );
      assert.equal(await jobs.quietPrecise(seen, quietUntil), false, 'a pass that read before the put');
      assert.deepEqual(await jobs.preciseMark(), moved);
      await assert.rejects(jobs.put({ ...precise, version: 9 }, 8), VersionConflictError);
      assert.deepEqual(await jobs.preciseMark(), moved, 'a refused put moves nothing');

      const resumed = { ...precise, version: 2, spec: { ...precise.spec, paused: false } };
      const read = { jobId: plain.spec.jobId, version: plain.version, updatedAt: plain.updatedAt };
      await jobs.put(resumed, 1, [read]);
      assert.deepEqual(await jobs.get(precise.spec.jobId), resumed);
      const again = await jobs.preciseMark();
      assert.deepEqual(again, { generation: moved.generation + 1 }, 'with graph checks too');
      assert.equal(await jobs.quietPrecise(again, quietUntil), true);
      await jobs.put({ ...plain, version: 2 }, 1);
      assert.deepEqual(await jobs.preciseMark(), { ...again, quietUntil }, 'a put of a plain job leaves it');
    });

    it('sets the sync state at a version', async () => {
      const { jobs } = await makeSubject();
      const job = sampleJob();
      await jobs.put(job, 0);
      await jobs.setSyncState(job.spec.jobId, 1, 'IN_SYNC');
      assert.equal((await jobs.get(job.spec.jobId))?.syncState, 'IN_SYNC');
      await assert.rejects(jobs.setSyncState(job.spec.jobId, 7, 'OUT_OF_SYNC'), VersionConflictError);
      await assert.rejects(jobs.setSyncState('no-such-job', 1, 'IN_SYNC'), NotFoundError);
    });

    it('deletes, conditionally on the version when given', async () => {
      const { jobs } = await makeSubject();
      const job = sampleJob();
      await jobs.put(job, 0);
      await assert.rejects(jobs.delete(job.spec.jobId, 5), VersionConflictError);
      await jobs.delete(job.spec.jobId, 1);
      assert.equal(await jobs.get(job.spec.jobId), null);
      await jobs.delete(job.spec.jobId); // absent is fine without a version
      await assert.rejects(jobs.delete(job.spec.jobId, 1), NotFoundError);
    });

    it('links and unlinks downstream jobs without changing the version, and a put keeps the list it is given; the stamp follows', async () => {
      const { jobs } = await makeSubject();
      const job = sampleJob();
      const id = job.spec.jobId;
      await jobs.put(job, 0);
      assert.deepEqual(await jobs.stamp(id), jobStamp(job));
      assert.equal((await jobs.stamp(id))?.hasDownstream, false);
      assert.equal(await jobs.stamp('no-such-job'), null);
      assert.equal(await jobs.linkDownstream(id, 'b-job', true), true);
      assert.equal(await jobs.linkDownstream(id, 'a-job', true), true);
      assert.equal(await jobs.linkDownstream(id, 'a-job', true), true); // idempotent
      const linked = await jobs.get(id);
      assert.deepEqual(linked?.downstream, ['a-job', 'b-job']);
      assert.equal(linked?.version, 1);
      assert.deepEqual(await jobs.stamp(id), { ...jobStamp(job), hasDownstream: true });
      await jobs.put(
        { ...job, version: 2, updatedAt: job.updatedAt + 1, downstream: linked?.downstream ?? [] },
        1,
      );
      assert.deepEqual(await jobs.stamp(id), {
        ...jobStamp(job),
        version: 2,
        updatedAt: job.updatedAt + 1,
        hasDownstream: true,
      });
      assert.deepEqual((await jobs.get(id))?.downstream, ['a-job', 'b-job']);
      await jobs.linkDownstream(id, 'a-job', false);
      await jobs.linkDownstream(id, 'b-job', false);
      assert.equal((await jobs.get(id))?.downstream, undefined, 'an empty list reads as absent');
      assert.equal((await jobs.stamp(id))?.hasDownstream, false);
      assert.equal(await jobs.linkDownstream('no-such-job', 'a-job', true), false);
      assert.equal(await jobs.get('no-such-job'), null, 'linking never creates a job');
    });
  });
}
