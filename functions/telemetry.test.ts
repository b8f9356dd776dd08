/**
 * The Lambda entry points' logs through Powertools' Logger: each handler invoked as Lambda invokes it
 * (event + context), its stdout read as CloudWatch Logs reads it. Both cases fail before any AWS call,
 * so no emulator is needed; Tracer is off here (no AWS_EXECUTION_ENV), which is also what the local
 * product and the tests rely on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureOutput } from '../test/harness/output';

process.env.CLOVER_PREFIX = 'clover-telemetry-test';
process.env.AWS_REGION = 'eu-west-1';
process.env.CLOVER_ALERT_FROM = 'clover@ops.example.org';
process.env.CLOVER_CONSOLE_URL = 'https://console.example.org';
process.env.POWERTOOLS_LOGGER_SAMPLE_RATE = '0.5';
// What Lambda sets for an on-demand function; Powertools reports cold starts only under it.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';

const { handler: dispatcher } = await import('./dispatcher/handler');
const { handler: notifier } = await import('./notifier/handler');

function context(fn: string, requestId: string) {
  return {
    awsRequestId: requestId,
    functionName: `clover-telemetry-test-${fn}`,
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:clover-telemetry-test-${fn}`,
    memoryLimitInMB: '512',
    functionVersion: '$LATEST',
    getRemainingTimeInMillis: () => 30_000,
  };
}

type Line = Record<string, unknown>;
const parse = (lines: string[]): Line[] => lines.map((line) => JSON.parse(line) as Line);

test("GIVEN the dispatcher Lambda WHEN invoked twice with junk THEN its log lines carry Powertools' keys: the invocation's request id, cold start, service, sampling rate; and its EMF line the Stage dimension", async () => {
  const first = await captureOutput(() => dispatcher({ jobId: 7 }, context('dispatcher', 'req-1')));
  const second = await captureOutput(() => dispatcher({ nope: true }, context('dispatcher', 'req-2')));
  assert.equal((first.result as { status: string }).status, 'invalid');
  const [log1] = parse(first.lines).filter((l) => l.message === 'fire rejected');
  const [log2] = parse(second.lines).filter((l) => l.message === 'fire rejected');
  assert.ok(log1 && log2, first.lines.join('\n'));
  for (const key of ['timestamp', 'level', 'service', 'sampling_rate', 'function_name', 'function_arn'])
    assert.ok(key in log1, `${key} in ${JSON.stringify(log1)}`);
  assert.equal(log1.level, 'ERROR');
  assert.equal(log1.service, 'dispatcher');
  assert.equal(log1.sampling_rate, 0.5);
  assert.equal(log1.function_request_id, 'req-1');
  assert.equal(log1.cold_start, true);
  assert.equal(log2.function_request_id, 'req-2', 'a warm invocation logs its own request id');
  assert.equal(log2.cold_start, false);
  assert.equal((log1.error as { code?: string }).code, 'validation_failed');
  const [emf] = parse(first.lines).filter((l) => '_aws' in l);
  assert.equal(emf?.Stage, 'clover-telemetry-test');
  assert.equal(emf?.Outcome, 'invalid');
  assert.equal(emf?.Fires, 1);
});

test('GIVEN the notifier Lambda WHEN a batch holds a malformed message THEN Powertools Batch reports it as an item failure and the log line names the request and the message', async () => {
  const { result, lines } = await captureOutput(() =>
    notifier({ Records: [{ messageId: 'm-1', body: '{"alertId": 7}' }] }, context('notifier', 'req-n')),
  );
  assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: 'm-1' }] });
  const [line] = parse(lines).filter((l) => l.message === 'alert message failed');
  assert.equal(line?.function_request_id, 'req-n');
  assert.equal(line?.service, 'notifier');
  assert.equal(line?.messageId, 'm-1');
  const [emf] = parse(lines).filter((l) => '_aws' in l);
  assert.equal(emf?.AlertSendFailures, 0);
});
