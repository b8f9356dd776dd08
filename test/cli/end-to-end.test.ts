/**
 * The CLI end to end, through real HTTP against the API of the local runtime on the emulator, with a
 * real agent process: a REMOTE job created with `clover jobs create` is fired by the local clock at
 * its instant, run by the agent (its handler's own marker counts the execution), and its run,
 * progress and log are read back with `clover runs get` and `clover runs log` (also tailed live with
 * --follow); `clover jobs trigger --wait` exits with the documented code of every outcome a real
 * agent produces, LOST included (the agent killed mid-run).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { type AgentProcess, testHandlersConfig, useAgents } from '../harness/agent-process';
import { type CliStack, eventually, useCliStack } from './helpers';

const cli = useCliStack();
const agents = useAgents();

let agent: AgentProcess | undefined;
/** The stack, with one agent in pool `cli` running the test handlers `work` and `fail`. */
async function ready(): Promise<CliStack> {
  const stack = await cli.ready();
  if (!agent) {
    agent = await agents.start({
      aws: stack.aws,
      workerId: 'cli-w1',
      config: [
        'pool: cli',
        'capacity: 4',
        'heartbeatIntervalSeconds: 1',
        'leaseTtlSeconds: 6',
        testHandlersConfig(['work', 'fail', 'steps']),
      ].join('\n'),
    });
    await agent.waitForLog(/^agent started$/, 60_000);
  }
  return stack;
}

async function executions(runId: string): Promise<number> {
  const text = await readFile(agent?.execFile ?? '', 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line === runId).length;
}

async function create(stack: CliStack, jobId: string, ...flags: string[]): Promise<void> {
  const r = await stack.cloverSetup('jobs', 'create', jobId, '--pool', 'cli', ...flags);
  assert.equal(r.code, 0, r.err);
}

/** The run id `jobs trigger` printed. */
function runIdOf(output: string): string {
  const match = /run (\S+)/.exec(output);
  assert.ok(match?.[1], `a run id in:\n${output}`);
  return match[1];
}

test('a REMOTE job created with the CLI is fired by the local clock, run by the agent, and read back with runs get and runs log', async () => {
  const stack = await ready();
  // 20 s ahead: creating the job spawns the CLI, which took more than 6 s once at load ~20, and a
  // one-time schedule whose instant passed before it existed never fires at that instant.
  const fireAt = Math.ceil((Date.now() + 20_000) / 1000) * 1000;
  const at = new Date(fireAt).toISOString().slice(0, 19);
  await create(
    stack,
    'cli-remote',
    '--handler',
    'work',
    '--schedule',
    `at(${at})`,
    '--payload',
    '{"sleepMs":1500}',
  );

  const jobs = await stack.clover('jobs', 'list', '--pool', 'cli');
  assert.equal(jobs.code, 0, jobs.err);
  assert.match(
    jobs.out,
    new RegExp(`^cli-remote\\s+work\\s+REMOTE\\s+at\\(${at.replace(/[()]/g, '\\$&')}\\)\\s+cli\\s+1$`, 'm'),
  );

  const runId = `cli-remote@${at}Z`;
  const run = await eventually(
    'the scheduled run to succeed',
    async () => {
      const r = await stack.clover('runs', 'list', '--job', 'cli-remote', '--json');
      assert.equal(r.code, 0, r.err);
      const items = (JSON.parse(r.out) as { items: { runId: string; status: string }[] }).items;
      return items.find((i) => i.runId === runId && i.status === 'SUCCEEDED');
    },
    { timeoutMs: 180_000 },
  );
  assert.equal(run.runId, runId, 'the fire of the schedule, at its instant');
  assert.equal(await executions(runId), 1, 'the handler ran exactly once');

  const got = await stack.clover('runs', 'get', runId);
  assert.equal(got.code, 0, got.err);
  assert.match(got.out, /^status: +SUCCEEDED$/m);
  assert.match(got.out, /^trigger: +SCHEDULE$/m);
  assert.match(got.out, /^worker: +cli-w1$/m);
  assert.match(got.out, /^progress: +100% done$/m);
  assert.match(got.out, /^History:\n {2}AT +STATUS +ATTEMPT +WORKER +NOTE$/m);
  assert.match(got.out, /^ {2}\S+ +RUNNING +1 +cli-w1/m);
  const asJson = JSON.parse((await stack.clover('runs', 'get', runId, '--json')).out) as {
    progress: { percent: number; message: string };
    result: { by: string };
  };
  assert.deepEqual(asJson.progress, { percent: 100, message: 'done' });
  assert.equal(asJson.result.by, 'cli-w1');

  const log = await stack.clover('runs', 'log', runId);
  assert.equal(log.code, 0, log.err);
  assert.equal(log.out, `start ${runId}\nend ${runId}\n`);
});

test('runs log --follow tails a running run live and stops when the run ends', async () => {
  const stack = await ready();
  // A run that does not end by itself: the first line is printed while it is certainly running.
  await create(stack, 'cli-tail', '--handler', 'work', '--payload', '{"sleepMs":600000}');
  const fired = await stack.clover('jobs', 'trigger', 'cli-tail');
  assert.equal(fired.code, 0, fired.err);
  const runId = runIdOf(fired.out);
  const tail = stack.spawnClover('runs', 'log', runId, '--follow', '--interval', '200');
  await eventually(
    'the first log line',
    async () => (tail.output().includes(`start ${runId}`) ? true : undefined),
    {
      seen: tail.output,
    },
  );
  assert.equal((await stack.api.call('getRun', { params: { runId } })).status, 'RUNNING');
  // Cancelled, the run is final and every line is read: the tail ends by itself.
  assert.equal((await stack.clover('runs', 'cancel', runId)).code, 0);
  const done = await tail.done;
  assert.equal(done.code, 0, done.err);
  assert.equal(done.out, `start ${runId}\n`);
});

test('jobs trigger --wait prints the progress and exits 0 SUCCEEDED, 10 FAILED, 15 NO_WORKER', async () => {
  const stack = await ready();
  await create(stack, 'cli-ok', '--handler', 'work', '--payload', '{"sleepMs":1000}');
  await create(stack, 'cli-fail', '--handler', 'fail');
  await create(stack, 'cli-nobody', '--handler', 'nobody.has.this');

  const ok = await stack.clover('jobs', 'trigger', 'cli-ok', '--wait', '--interval', '200');
  assert.equal(ok.code, 0, ok.out + ok.err);
  const okRun = runIdOf(ok.out);
  assert.match(ok.out, /RUNNING {2}attempt 1 on cli-w1/);
  assert.match(ok.out, /progress 100% done/);
  assert.match(ok.out, new RegExp(`^ {2}\\| start ${okRun}$`, 'm'));
  assert.match(ok.out, /^SUCCEEDED in \d/m);
  assert.equal(await executions(okRun), 1);

  const failed = await stack.clover('jobs', 'trigger', 'cli-fail', '--wait', '--interval', '200');
  assert.equal(failed.code, 10, failed.out + failed.err);
  assert.match(failed.out, /^FAILED.*boom: the disk is full/m);

  const nobody = await stack.clover('jobs', 'trigger', 'cli-nobody', '--wait', '--interval', '200');
  assert.equal(nobody.code, 15, nobody.out + nobody.err);
  assert.match(nobody.out, /NO_WORKER/);

  // --json: the progress goes to stderr, the final run to stdout.
  const quiet = await stack.clover('jobs', 'trigger', 'cli-ok', '--wait', '--json', '--interval', '200');
  assert.equal(quiet.code, 0, quiet.err);
  assert.equal((JSON.parse(quiet.out) as { status: string }).status, 'SUCCEEDED');
  assert.match(quiet.err, /SUCCEEDED in/);
});

test('jobs trigger --wait exits 12 CANCELLED, 14 SKIPPED, 16 when --timeout runs out, 11 TIMED_OUT', async () => {
  const stack = await ready();
  await create(stack, 'cli-long', '--handler', 'work', '--payload', '{"sleepMs":60000}');

  const waiting = stack.spawnClover('jobs', 'trigger', 'cli-long', '--wait', '--interval', '200');
  await eventually(
    'the long run to start',
    async () => (/RUNNING/.test(waiting.output()) ? true : undefined),
    {
      seen: waiting.output,
    },
  );
  const longRun = runIdOf(waiting.output());

  // While it runs, a second fire of the same job is SKIPPED (overlap, the default FORBID policy).
  const skipped = await stack.clover('jobs', 'trigger', 'cli-long', '--wait', '--interval', '200');
  assert.equal(skipped.code, 14, skipped.out + skipped.err);
  assert.match(skipped.out, /SKIPPED \(overlap\)/);

  const cancelled = await stack.clover('runs', 'cancel', longRun);
  assert.equal(cancelled.code, 0, cancelled.err);
  assert.equal(cancelled.out, `${longRun}: CANCELLED\n`);
  const done = await waiting.done;
  assert.equal(done.code, 12, done.out + done.err);
  assert.match(done.out, /^CANCELLED/m);
  const again = await stack.clover('runs', 'cancel', longRun);
  assert.equal(again.code, 5, 'a finished run cannot be cancelled: RUN_NOT_IN_STATE');
  assert.match(again.err, /^error: RUN_NOT_IN_STATE: /);

  const impatient = await stack.clover(
    'jobs',
    'trigger',
    'cli-long',
    '--wait',
    '--timeout',
    '1',
    '--interval',
    '200',
  );
  assert.equal(impatient.code, 16, impatient.out + impatient.err);
  assert.match(impatient.out, /the run goes on/);
  assert.equal((await stack.clover('runs', 'cancel', runIdOf(impatient.out))).code, 0);

  // The agent aborts a handler at its run's deadline and reports TIMED_OUT.
  await create(stack, 'cli-slow', '--handler', 'work', '--payload', '{"sleepMs":60000}', '--timeout', '2');
  const late = await stack.clover('jobs', 'trigger', 'cli-slow', '--wait', '--interval', '200');
  assert.equal(late.code, 11, late.out + late.err);
  assert.match(late.out, /^TIMED_OUT.*deadline_exceeded/m);
});

test('jobs trigger --wait prints every progress step and log line in order, and the final status last', async () => {
  const stack = await ready();
  // Steps far longer than the agent's 1 s writes and the 200 ms polls: each is seen.
  await create(stack, 'cli-steps', '--handler', 'steps', '--payload', '{"steps":3,"stepMs":2500}');
  const r = await stack.clover('jobs', 'trigger', 'cli-steps', '--wait', '--interval', '200');
  assert.equal(r.code, 0, r.out + r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines.at(-1) ?? '', /^SUCCEEDED in \S+, attempt 1 on cli-w1$/);
  const expected = [
    /RUNNING {2}attempt 1 on cli-w1$/,
    /^ {2}\| starting 3 steps$/,
    /^ {2}\| step 1 of 3 done$/,
    /progress 33\.\d+% step 1 of 3$/,
    /^ {2}\| step 2 of 3 done$/,
    /progress 66\.\d+% step 2 of 3$/,
    /^ {2}\| step 3 of 3 done$/,
    /progress 100% step 3 of 3$/,
  ];
  let at = -1;
  for (const pattern of expected) {
    const found = lines.findIndex((line, i) => i > at && pattern.test(line));
    assert.ok(found > at, `${pattern} after line ${at} in:\n${r.out}`);
    at = found;
  }
  assert.equal(lines.filter((line) => /SUCCEEDED/.test(line)).length, 1, r.out);
});

test('tables fit 120 columns with the reason in its own column; --wide and --json keep it whole; cursors only when more exist', async () => {
  const stack = await ready();
  const jobId = 'cli-width-reasons';
  await create(stack, jobId, '--handler', 'nobody.has.this');
  for (let i = 0; i < 3; i++) {
    const fired = await stack.clover('jobs', 'trigger', jobId);
    assert.equal(fired.code, 0, fired.err);
  }
  const runs = await eventually('three NO_WORKER runs', async () => {
    const page = await stack.api.call('listRuns', { query: { jobId, status: 'NO_WORKER' } });
    return page.items.length === 3 && page.items.every((run) => run.reason) ? page.items : undefined;
  });
  const reason = runs[0]?.reason ?? '';

  const table = await stack.clover('runs', 'list', '--job', jobId);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.trimEnd().split('\n');
  assert.equal(lines.length, 4, table.out);
  for (const line of lines) assert.ok(line.length <= 120, `${line.length} columns: ${line}`);
  assert.match(lines[0] ?? '', /^RUN +STATUS .* REASON$/);
  assert.match(lines[1] ?? '', new RegExp(`^${jobId}@manual-\\S+ +NO_WORKER +1 +no \\S`));
  assert.doesNotMatch(table.out, /NO_WORKER\(/);
  assert.equal(table.err, '', 'all three fit one page: no cursor offered');

  const wide = await stack.clover('runs', 'list', '--job', jobId, '--wide');
  assert.match(wide.out, /^RUN +JOB +STATUS +TRIGGER/);
  assert.ok(wide.out.includes(reason), `the whole reason in:\n${wide.out}`);
  const json = await stack.clover('runs', 'list', '--job', jobId, '--json');
  assert.equal((JSON.parse(json.out) as { items: Array<{ reason?: string }> }).items[0]?.reason, reason);

  // Two pages of two: the first offers a cursor, the second (holding the last run) none.
  const first = await stack.clover('runs', 'list', '--job', jobId, '--limit', '2');
  const cursor = /--cursor (\S+)/.exec(first.err)?.[1];
  assert.ok(cursor, first.err);
  const second = await stack.clover('runs', 'list', '--job', jobId, '--limit', '2', '--cursor', cursor);
  assert.equal(second.code, 0, second.err);
  assert.equal(second.out.trimEnd().split('\n').length, 2, second.out);
  assert.equal(second.err, '');
  // Every run of the last week, walked day by day: no cursor to an empty page.
  const all = await stack.clover('runs', 'list', '--limit', '200');
  assert.equal(all.code, 0, all.err);
  assert.equal(all.err, '');
});

test('a reader that closes the pipe early ends clover quietly with exit 0', async () => {
  const stack = await ready();
  await create(stack, 'cli-pipe', '--handler', 'work');
  // `true` never reads: every write clover makes after the API answers meets a closed pipe.
  for (const args of [
    ['jobs', 'get', 'cli-pipe'],
    ['runs', 'list', '--limit', '200'],
    ['jobs', 'list', '--json'],
  ]) {
    const r = await stack.pipe('true', ...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err, '', args.join(' '));
  }
  const head = await stack.pipe('head -1', 'runs', 'list', '--limit', '200');
  assert.equal(head.code, 0, head.err);
  assert.match(head.out, /^RUN +STATUS/);
  assert.doesNotMatch(head.err, /EPIPE|at /);
});

test('server text is printed without escape sequences; --json keeps it exact', async () => {
  const stack = await ready();
  const description =
    'Report \u001b[2Jcleared \u001b]0;owned\u0007titled \u001b]8;;https://evil.example/\u001b\\link\u001b]8;;\u001b\\ \u009b31mred';
  await stack.api.call('createJob', {
    body: { jobId: 'cli-escapes', handler: 'work', target: { pool: 'cli' }, description },
  });
  const shown = await stack.clover('jobs', 'get', 'cli-escapes');
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /^description: +Report cleared titled link red$/m);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
  assert.doesNotMatch(shown.out, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  const json = await stack.clover('jobs', 'get', 'cli-escapes', '--json');
  assert.equal((JSON.parse(json.out) as { spec: { description: string } }).spec.description, description);
});

// Last: it kills the agent the tests above share.
test('jobs trigger --wait exits 13 LOST when the agent dies running a job that must not run twice', async () => {
  const stack = await ready();
  const running = agent;
  assert.ok(running);
  // recoverOnWorkerLoss: false — LOST once the lease expires and the monitor sweeps, never re-run.
  // The spec comes from a file (`jobs create -f`).
  const spec = await stack.writeFile(
    'once.yaml',
    [
      'jobId: cli-once',
      'handler: work',
      'payload: { sleepMs: 600000 }',
      'target: { pool: cli }',
      'recoverOnWorkerLoss: false',
    ].join('\n'),
  );
  const made = await stack.clover('jobs', 'create', '-f', spec);
  assert.equal(made.code, 0, made.err);
  const dying = stack.spawnClover('jobs', 'trigger', 'cli-once', '--wait', '--interval', '200');
  await eventually('the run to start', async () => (/RUNNING/.test(dying.output()) ? true : undefined), {
    seen: dying.output,
  });
  await running.kill();
  const lost = await dying.done;
  assert.equal(lost.code, 13, lost.out + lost.err);
  assert.match(lost.out, /^LOST/m);
});
