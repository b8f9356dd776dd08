/**
 * Invariant 6 with real agent processes: an envelope is a pointer, the run record is the truth.
 *
 * Hostile envelopes are put straight on agent a1's own SQS queue, as anyone with SendMessage on it
 * could: one for a run DISPATCHED to another live agent (a2), ones naming another handler or payload
 * than the record, ones with a forged attempt or deadline, a replay of a run that already completed,
 * the first envelope of a run since dispatched again to a1 (a stale fence), and one carrying extra
 * fields that try to name code or a command. For each: nothing runs (the test handlers append every
 * run id they execute to a per-agent file, and a command handler would create a marker file), a1 logs
 * the refusal with its reason, and every record is unchanged field by field. Then the genuine envelopes are delivered and run, so a1 was serving all along.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { controlPlane } from '../../core/adapters/control-plane';
import { toSqsBody } from '../../core/adapters/envelope-codec';
import { DEAD_LETTER_ATTRIBUTES } from '../../core/adapters/sqs-inbox';
import { type DispatchEnvelope, envelopeFor } from '../../core/envelope';
import { isoSeconds, type Run } from '../../core/model';
import { useEmulator } from '../harness';
import {
  type AgentLogLine,
  type AgentProcess,
  testHandlersConfig,
  useAgents,
} from '../harness/agent-process';

const aws = useEmulator();
const agents = useAgents();

const config = `pool: guarded\ncapacity: 4\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 5\n${testHandlersConfig()}`;

async function executed(agent: AgentProcess): Promise<string[]> {
  const text = await readFile(agent.execFile, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

function refusalsOf(agent: AgentProcess, runId: string): AgentLogLine[] {
  return agent
    .lines()
    .filter((line) => line.runId === runId && line.message === 'claim refused: message deleted');
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 300; i += 1) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('forged, mismatched and replayed envelopes run nothing, are logged with their reason, and change no record', async () => {
  const stack = await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const [a1, a2] = await Promise.all(['a1', 'a2'].map((workerId) => agents.start({ aws, workerId, config })));
  await Promise.all([a1!.waitForLog(/agent started/, 30_000), a2!.waitForLog(/agent started/, 30_000)]);
  const queueOf = async (workerId: string) => (await plane.workers.get(workerId))?.endpoints.queueUrl ?? '';
  const a1Queue = await queueOf('a1');
  const send = (body: string) =>
    aws.clients.sqs.send(new SendMessageCommand({ QueueUrl: a1Queue, MessageBody: body }));

  await plane.jobService.define({
    jobId: 'guarded',
    handler: 'work',
    payload: { sleepMs: 50 },
    target: { pool: 'guarded' },
    concurrency: { policy: 'ALLOW' },
  });
  const job = await plane.jobs.get('guarded');
  assert.ok(job);

  // Runs as the dispatcher writes them, DISPATCHED to a worker, but with no envelope sent yet.
  const now = Date.now();
  const dispatched = async (name: string, workerId: string): Promise<Run> => {
    const scheduledTime = isoSeconds(now);
    const run: Run = {
      runId: `guarded@${name}`,
      jobId: 'guarded',
      scheduledTime,
      trigger: 'MANUAL',
      handler: 'work',
      payload: { sleepMs: 50 },
      status: 'DISPATCHED',
      attempt: 1,
      fence: 1,
      jobVersion: job.version,
      concurrency: 'ALLOW',
      workerId,
      createdAt: now,
      updatedAt: now,
      dispatchedAt: now,
      deadlineAt: now + 600_000,
      history: [
        { at: now, status: 'PENDING', attempt: 1, note: 'fired by manual' },
        { at: now, status: 'DISPATCHED', attempt: 1, workerId },
      ],
    };
    await plane.runs.create(run);
    return run;
  };
  const othersRun = await dispatched('theirs', 'a2');
  const mine = await dispatched('mine', 'a1');
  const forgedAttempt = await dispatched('attempt', 'a1');
  const codeNaming = await dispatched('code', 'a1');
  // Dispatched to a1 and then re-dispatched to a1 (as the dispatcher moves a delivery on: the same
  // attempt and deadline under a raised fence), so its first envelope is stale by the fence alone.
  const staleRun = await dispatched('stale', 'a1');
  const staleEnvelope = toSqsBody(envelopeFor(staleRun, staleRun.deadlineAt ?? 0, Date.now()));
  const raised = await plane.runs.transition(staleRun.runId, {
    from: ['DISPATCHED'],
    fence: staleRun.fence,
    to: 'DISPATCHED',
    at: Date.now(),
    newFence: staleRun.fence + 1,
    note: 'delivery moved to a1',
    set: { workerId: 'a1' },
  });
  assert.equal(raised.fence, 2);
  const genuine = (run: Run): DispatchEnvelope => envelopeFor(run, run.deadlineAt ?? 0, Date.now());

  // A completed run, through the real path: fired, delivered to a1's queue by the dispatcher, run, done.
  const fired = await plane.dispatcher.fire({ jobId: 'guarded', trigger: 'MANUAL' });
  assert.equal(fired.kind, 'dispatched');
  const completedId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
  const completed = await waitFor('the fired run to succeed', async () => {
    const run = await plane.runs.get(completedId);
    return run?.status === 'SUCCEEDED' ? run : undefined;
  });
  const completedBy = [a1!, a2!].find((agent) => agent.workerId === completed.workerId);
  assert.ok(completedBy);

  const before = new Map<string, Run | null>();
  for (const run of [othersRun, mine, forgedAttempt, codeNaming, staleRun, completed]) {
    before.set(run.runId, await plane.runs.get(run.runId));
  }
  const marker = join(a1!.dir, 'pwned');

  // 1. A run dispatched to another live worker, envelope otherwise exactly the record's.
  await send(toSqsBody(genuine(othersRun)));
  // 2. Another handler, and another payload, than the record names.
  await send(toSqsBody({ ...genuine(mine), handler: 'fail' }));
  await send(toSqsBody({ ...genuine(mine), payload: { sleepMs: 50, rm: '-rf /' } }));
  // 3. A forged attempt, and a deadline in the year 2200.
  await send(toSqsBody({ ...genuine(forgedAttempt), attempt: 2 }));
  await send(toSqsBody({ ...genuine(forgedAttempt), deadlineAt: Date.UTC(2200, 0, 1) }));
  // 4. A replay of the completed run's envelope, sent to the agent that ran it.
  const replay = envelopeFor({ ...completed, status: 'DISPATCHED' }, completed.deadlineAt ?? 0, Date.now());
  await aws.clients.sqs.send(
    new SendMessageCommand({ QueueUrl: await queueOf(completedBy.workerId), MessageBody: toSqsBody(replay) }),
  );
  // 5. The envelope of the first dispatch, after the run was dispatched again to the same worker.
  await send(staleEnvelope);
  // 6. Extra fields naming code or a command (issue #11): not an envelope at all.
  await send(
    toSqsBody({
      ...genuine(codeNaming),
      command: `touch ${marker}`,
      module: '/tmp/evil.js',
      script: `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`,
    } as DispatchEnvelope),
  );

  const theirs = await waitFor('the refusal of a2’s run', () => refusalsOf(a1!, othersRun.runId)[0]);
  assert.equal(theirs.level, 'warn');
  assert.equal(theirs.reason, 'envelope_mismatch');
  assert.deepEqual(theirs.differences, [{ field: 'workerId', record: 'a2', envelope: 'a1' }]);

  const mismatched = await waitFor('both refusals of the mismatched envelopes', () => {
    const lines = refusalsOf(a1!, mine.runId);
    return lines.length >= 2 ? lines : undefined;
  });
  assert.deepEqual(
    mismatched.map((line) => (line.differences as { field: string }[]).map((d) => d.field)).sort(),
    [['handler'], ['payload']],
  );
  const handlerLine = mismatched.find((line) =>
    (line.differences as { field: string }[]).some((d) => d.field === 'handler'),
  );
  assert.deepEqual(handlerLine?.differences, [{ field: 'handler', record: 'work', envelope: 'fail' }]);

  const forged = await waitFor('both refusals of the forged attempt and deadline', () => {
    const lines = refusalsOf(a1!, forgedAttempt.runId);
    return lines.length >= 2 ? lines : undefined;
  });
  assert.deepEqual(
    forged
      .flatMap((line) => line.differences as { field: string; record: unknown; envelope: unknown }[])
      .sort((x, y) => x.field.localeCompare(y.field)),
    [
      { field: 'attempt', record: 1, envelope: 2 },
      { field: 'deadlineAt', record: forgedAttempt.deadlineAt, envelope: Date.UTC(2200, 0, 1) },
    ],
  );

  const replayed = await waitFor(
    'the refusal of the replay',
    () => refusalsOf(completedBy, completed.runId)[0],
  );
  assert.equal(replayed.reason, 'not_claimable');
  assert.equal(replayed.status, 'SUCCEEDED');

  const stale = await waitFor(
    'the refusal of the stale-fence envelope',
    () => refusalsOf(a1!, staleRun.runId)[0],
  );
  assert.equal(stale.reason, 'stale_fence');
  assert.equal(stale.fence, 1);
  assert.equal(stale.currentFence, 2);
  assert.equal(stale.status, 'DISPATCHED');

  const poisoned = await waitFor('the code-naming envelope to be dead-lettered', () =>
    a1!
      .lines()
      .find(
        (line) =>
          line.message === 'malformed message moved to the dead-letter queue' &&
          /command|module|script/.test(String(line.reason)),
      ),
  );
  assert.match(String(poisoned.reason), /unrecognized key/i);
  const dlq = await aws.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: stack.queues['dispatch-default-dlq'],
      MaxNumberOfMessages: 10,
      MessageAttributeNames: ['All'],
    }),
  );
  const letter = dlq.Messages?.find((m) =>
    /command|module|script/.test(m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.reason]?.StringValue ?? ''),
  );
  assert.ok(letter, 'the code-naming message is in the dead-letter queue with its reason');

  // Nothing ran and nothing changed.
  for (const [runId, was] of before) {
    assert.deepEqual(await plane.runs.get(runId), was, `${runId} is unchanged, field by field`);
  }
  const ranOnA1 = await executed(a1!);
  const ranOnA2 = await executed(a2!);
  for (const run of [othersRun, mine, forgedAttempt, codeNaming, staleRun]) {
    assert.ok(!ranOnA1.includes(run.runId) && !ranOnA2.includes(run.runId), `${run.runId} did not run`);
  }
  assert.deepEqual(
    [...ranOnA1, ...ranOnA2].filter((id) => id === completed.runId),
    [completed.runId],
    'the completed run ran once, not again on the replay',
  );
  assert.equal(existsSync(marker), false, 'no command or module named in a message ran');

  // The genuine envelopes still run: a1 kept serving, and the records were left claimable.
  for (const run of [mine, forgedAttempt, codeNaming, raised]) await send(toSqsBody(genuine(run)));
  for (const run of [mine, forgedAttempt, codeNaming, raised]) {
    const done = await waitFor(`${run.runId} to succeed`, async () => {
      const current = await plane.runs.get(run.runId);
      return current?.status === 'SUCCEEDED' ? current : undefined;
    });
    assert.equal(done.workerId, 'a1');
    assert.equal(done.deadlineAt, run.deadlineAt);
    assert.deepEqual(done.result, { by: 'a1', attempt: 1 });
  }
  assert.equal((await plane.runs.get(othersRun.runId))?.status, 'DISPATCHED', 'a2’s run is still a2’s');

  for (const agent of [a1!, a2!]) agent.signal('SIGTERM');
  for (const agent of [a1!, a2!]) assert.equal((await agent.waitForExit()).code, 0, agent.text);
});
