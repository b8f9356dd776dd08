import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerRegistrationSchema } from './model';
import { MemoryWorkerRegistry } from './testing/memory-stores';
import { WorkerDirectory } from './worker-directory';

const T0 = Date.parse('2026-01-30T10:00:00Z');
const HOUR = 3_600_000;

/** A registry whose list() calls are counted and answered only when the test says so. */
function world() {
  const registry = new MemoryWorkerRegistry();
  const answers: Array<() => void> = [];
  let reads = 0;
  const gated = Object.assign(Object.create(registry) as MemoryWorkerRegistry, {
    list: async (pool?: string) => {
      reads += 1;
      await new Promise<void>((resolve) => answers.push(resolve));
      return registry.list(pool);
    },
  });
  const directory = new WorkerDirectory(gated, 1000);
  const join = (workerId: string) =>
    registry.register(
      WorkerRegistrationSchema.parse({
        workerId,
        host: `${workerId}.local`,
        handlers: ['h'],
        endpoints: { queueUrl: `memory://${workerId}` },
      }),
      T0,
      HOUR,
    );
  /** Answers every read waiting, then lets their callbacks run. */
  const answer = async () => {
    for (const resolve of answers.splice(0)) resolve();
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  const ids = async (pending: Promise<{ workerId: string }[]>) => (await pending).map((w) => w.workerId);
  return { directory, join, answer, ids, reads: () => reads };
}

test('the worker list is read once per time to live, and refreshed ahead after a fire that found it near expiry', async () => {
  const w = world();
  await w.join('a');

  // Cold: the fire waits for the read; concurrent fires share it.
  const first = w.ids(w.directory.live('default', T0));
  const second = w.ids(w.directory.live('default', T0 + 1));
  assert.equal(w.reads(), 1);
  await w.answer();
  assert.deepEqual([await first, await second], [['a'], ['a']]);

  // Fresh: served from memory, no read, nothing due.
  await w.join('b');
  assert.deepEqual(await w.ids(w.directory.live('default', T0 + 400)), ['a']);
  await w.directory.refreshAhead(T0 + 400);
  assert.equal(w.reads(), 1);

  // In the second half of its life: served at once from memory; read again by refreshAhead only.
  assert.deepEqual(await w.ids(w.directory.live('default', T0 + 600)), ['a']);
  assert.deepEqual(await w.ids(w.directory.live('default', T0 + 900)), ['a']);
  assert.equal(w.reads(), 1);
  const ahead = w.directory.refreshAhead(T0 + 950);
  assert.equal(w.reads(), 2);
  await w.answer();
  await ahead;
  assert.deepEqual(await w.ids(w.directory.live('default', T0 + 1500)), ['a', 'b'], 'the list read at +950');
  assert.equal(w.reads(), 2);

  // After a quiet spell the list has expired: the fire waits for a new read.
  const late = w.ids(w.directory.live('default', T0 + 5000));
  assert.equal(w.reads(), 3);
  await w.answer();
  assert.deepEqual(await late, ['a', 'b']);
});
