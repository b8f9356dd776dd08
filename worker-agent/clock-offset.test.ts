import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { LogFields, Logger, LogLevel } from '../core/log';
import { ClockOffset, type ClockOffsetEstimate, measureClockOffset } from './clock-offset';

function recordingLog() {
  const lines: { level: LogLevel; message: string; fields?: LogFields }[] = [];
  const log: Logger = {
    log: (level, message, fields) => lines.push({ level, message, ...(fields ? { fields } : {}) }),
    child: () => log,
  };
  return { log, lines };
}

/** A response from a server whose clock is `offsetMs` ahead, answered `rttMs` after `sentAt`. */
function respond(clock: ClockOffset, sentAt: number, offsetMs: number, rttMs = 4) {
  const serverAt = sentAt + rttMs / 2 + offsetMs;
  const date = new Date(Math.floor(serverAt / 1000) * 1000).toUTCString();
  clock.observe(sentAt, sentAt + rttMs, date);
}

test('GIVEN responses at many phases of the second WHEN intersected THEN the offset is found within a round trip, from a Date header of whole seconds', () => {
  const { log } = recordingLog();
  const clock = new ClockOffset({ log });
  for (let i = 0; i < 200; i++) respond(clock, 1_000_000 + i * 1_007, 230);
  const estimate = clock.estimate();
  assert.ok(estimate);
  assert.ok(Math.abs(estimate.offsetMs - 230) <= 8, JSON.stringify(estimate));
  assert.ok(estimate.uncertaintyMs <= 8, JSON.stringify(estimate));
});

test('GIVEN an offset beyond the threshold WHEN measured THEN it warns once per episode, says when it is back, and reports only estimates past it', () => {
  const { log, lines } = recordingLog();
  const reported: ClockOffsetEstimate[] = [];
  const clock = new ClockOffset({ log, thresholdMs: 50, report: (e) => reported.push(e) });
  let t = 1_000_000;
  /** `n` responses a little over a second apart (every phase of the server's second), at `offsetMs`. */
  const responses = (n: number, offsetMs: number) => {
    for (let i = 0; i < n; i++) {
      t += 1_013;
      respond(clock, t, offsetMs);
    }
  };
  responses(50, -20); // within: no warning, nothing for the metric
  assert.deepEqual(
    lines.filter((l) => l.level === 'warn'),
    [],
  );
  assert.equal(reported.length, 0, 'a clock within the threshold reports nothing');
  // The host's clock is stepped 300 ms ahead: the old samples disagree and measuring starts again.
  responses(100, -320);
  const warnings = lines.filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1, 'once for the episode');
  assert.match(warnings[0]?.message ?? '', /chrony/, JSON.stringify(lines));
  assert.ok(Math.abs(Number(warnings[0]?.fields?.offsetMs) + 320) <= 500, JSON.stringify(warnings[0]));
  assert.ok(lines.some((l) => l.message.includes('disagree')));
  const whileOver = reported.length;
  assert.ok(whileOver > 0, 'estimates past the threshold are reported');
  responses(100, 5);
  assert.ok(lines.some((l) => l.message.includes('back within')));
  assert.ok(
    reported.every((e) => Math.abs(e.offsetMs) - e.uncertaintyMs > 50),
    'only estimates known to be past the threshold',
  );
  responses(100, 400);
  assert.equal(lines.filter((l) => l.level === 'warn').length, 2, 'a new episode warns again');
  assert.ok(reported.length > whileOver && reported.length < 350, `${reported.length} of 350 estimates`);
  const last = reported.at(-1);
  assert.ok(last && Math.abs(last.offsetMs - 400) <= last.uncertaintyMs + 2, JSON.stringify(last));
});

test('GIVEN responses without a usable Date WHEN observed THEN nothing is estimated', () => {
  const { log } = recordingLog();
  const clock = new ClockOffset({ log });
  clock.observe(1000, 1004, undefined);
  clock.observe(1000, 1004, 'not a date');
  clock.observe(1004, 1000, new Date(0).toUTCString());
  assert.equal(clock.estimate(), null);
});

test('GIVEN a DynamoDB client with the middleware WHEN it gets answers, errors included, THEN each attempt feeds the estimate from the Date header', async () => {
  const skewMs = 120_000; // a server two minutes ahead: the SDK still signs (within its 5 min skew)
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const fail = request.headers['x-amz-target']?.includes('ListTables') && served++ === 0;
      response.writeHead(fail ? 500 : 200, {
        'content-type': 'application/x-amz-json-1.0',
        date: new Date(Date.now() + skewMs).toUTCString(),
      });
      response.end(fail ? '{"__type":"InternalServerError"}' : '{"TableNames":[]}');
    });
  });
  let served = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 3,
  });
  try {
    const { log } = recordingLog();
    const clock = new ClockOffset({ log });
    measureClockOffset(client, clock);
    for (let i = 0; i < 3; i++) await client.send(new ListTablesCommand({}));
    const estimate = clock.estimate();
    assert.equal(estimate?.samples, 4, 'the failed attempt and its retry are both measured');
    assert.ok(Math.abs((estimate?.offsetMs ?? 0) - skewMs) <= 1000, JSON.stringify(estimate));
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
