/**
 * `clover jobs trigger`: the caller's traceparent, and `--wait`'s exit code per final status. In
 * process, against the scripted server of cli/testing/scripted-api.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clover, seen, useScriptedApi } from './testing/scripted-api';

useScriptedApi();

test("jobs trigger sends the caller's traceparent (--traceparent, else TRACEPARENT) and refuses a malformed one naming its source, sending nothing", async () => {
  const mine = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const theirs = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const fired = () => ({
    status: 202,
    body: {
      runId: 'r1',
      outcome: 'dispatched',
      status: 'DISPATCHED',
      traceId: '1-4bf92f35-77b34da6a3ce929d0e0e4736',
    },
  });
  const flag = await clover(['jobs', 'trigger', 'j', '--traceparent', mine], fired, { TRACEPARENT: theirs });
  assert.equal(flag.code, 0, flag.err);
  assert.equal(seen[0]?.traceparent, mine, 'the flag wins over the environment');
  assert.equal(flag.out, 'triggered j: run r1 (DISPATCHED), trace 1-4bf92f35-77b34da6a3ce929d0e0e4736');

  assert.equal((await clover(['jobs', 'trigger', 'j'], fired, { TRACEPARENT: theirs })).code, 0);
  assert.equal(seen[0]?.traceparent, theirs, 'TRACEPARENT from the environment');
  assert.equal(
    (await clover(['jobs', 'trigger', 'j', '--traceparent', ''], fired, { TRACEPARENT: theirs })).code,
    0,
  );
  assert.equal(seen[0]?.traceparent, undefined, "--traceparent '' sends none");
  assert.equal((await clover(['jobs', 'trigger', 'j'], fired)).code, 0);
  assert.equal(seen[0]?.traceparent, undefined, 'none given, none sent');

  const badFlag = await clover(['jobs', 'trigger', 'j', '--traceparent', mine.replace(/^00/, 'ff')], fired);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.err, /^error: --traceparent has version ff, which W3C Trace Context forbids\n/);
  assert.equal(seen.length, 0, 'nothing sent');
  const badEnv = await clover(['jobs', 'trigger', 'j'], fired, { TRACEPARENT: mine.toUpperCase() });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.err, /^error: TRACEPARENT \(from the environment\) must be lowercase hex\n/);
  assert.equal(seen.length, 0, 'nothing sent');
});

test('jobs trigger --wait exits with the code of each final status, and keeps waiting through a scheduled retry', async () => {
  const expected: Record<string, number> = {
    SUCCEEDED: 0,
    FAILED: 10,
    TIMED_OUT: 11,
    CANCELLED: 12,
    LOST: 13,
    SKIPPED: 14,
    NO_WORKER: 15,
  };
  for (const [status, exit] of Object.entries(expected)) {
    let polls = 0;
    const r = await clover(['jobs', 'trigger', 'j', '--wait'], (req) => {
      if (req.method === 'POST')
        return { status: 202, body: { runId: 'r1', outcome: 'dispatched', status: 'DISPATCHED' } };
      if (req.url.startsWith('/api/runs/r1/log'))
        return {
          status: 200,
          body: { runId: 'r1', status, lines: [], nextCursor: 'c', complete: polls > 1 },
        };
      polls += 1;
      // First a NO_WORKER with a retry scheduled (not final), then the final status.
      const run = polls === 1 ? { status: 'NO_WORKER', nextAttemptAt: 1 } : { status };
      return { status: 200, body: { runId: 'r1', jobId: 'j', attempt: 1, history: [], ...run } };
    });
    assert.equal(r.code, exit, `${status}: ${r.out}${r.err}`);
    assert.match(r.out, new RegExp(`^${status}`, 'm'));
  }
});
