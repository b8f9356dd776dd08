/**
 * The console's pure parts, in node: config.json parsing and the trace links it makes, the schedule
 * presets (each checked by core's schedule engine, AWS's rules), the sign-in return path, and the API
 * client's error mapping against a real HTTP server on loopback.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApiClient, ApiError } from '../../console/src/api/client';
import { isRunActive } from '../../console/src/api/run-status';
import { safeReturnTo } from '../../console/src/auth/return-to';
import { ConfigError, parseConfig } from '../../console/src/config';
import { countOf, everyHour } from '../../console/src/format';
import { PRESETS, type Preset, presetExpression } from '../../console/src/schedule-presets';
import { traceUrl } from '../../console/src/trace-link';
import { isFinal, RunStatuses } from '../../core/model';
import { parseSchedule } from '../../core/schedule';

test('config.json: local and cognito modes parse; a bad one names its field', () => {
  assert.deepEqual(parseConfig({ apiUrl: '', auth: { mode: 'local' } }), {
    apiUrl: '',
    auth: { mode: 'local' },
  });
  const cognito = parseConfig({
    apiUrl: 'https://api.example.com/',
    auth: {
      mode: 'cognito',
      region: 'eu-west-1',
      userPoolId: 'eu-west-1_abc',
      clientId: 'client',
      domain: 'https://clover.auth.eu-west-1.amazoncognito.com/',
    },
  });
  assert.equal(cognito.apiUrl, 'https://api.example.com', 'trailing slash dropped');
  assert.equal(
    cognito.auth.mode === 'cognito' && cognito.auth.domain,
    'https://clover.auth.eu-west-1.amazoncognito.com',
  );
  assert.equal(
    cognito.auth.mode === 'cognito' && cognito.auth.issuer,
    'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
    'the pool is the issuer',
  );
  const issuer = parseConfig({
    auth: {
      mode: 'cognito',
      issuer: 'https://127.0.0.1:8443/',
      clientId: 'client',
      domain: 'https://127.0.0.1:8443',
    },
  });
  assert.equal(
    issuer.auth.mode === 'cognito' && issuer.auth.issuer,
    'https://127.0.0.1:8443',
    'an issuer instead of a pool',
  );
  assert.throws(
    () => parseConfig({ auth: { mode: 'cognito', region: 'eu-west-1', clientId: 'c', domain: 'd' } }),
    /auth\.userPoolId is required in cognito mode/,
  );
  assert.throws(() => parseConfig({ auth: { mode: 'saml' } }), {
    message: /auth\.mode must be "local" or "cognito"/,
  });
  assert.throws(
    () => parseConfig({ auth: { mode: 'cognito', region: 'eu-west-1', userPoolId: 'p', domain: 'd' } }),
    (error: unknown) => error instanceof ConfigError && /auth\.clientId is required/.test(error.message),
  );
  assert.throws(() => parseConfig([]), /auth must be an object/);
});

test("a run's trace: a deployed config links it to CloudWatch's X-Ray traces in the stage's region; the local one does not", () => {
  const traceId = '1-6756a3c0-0123456789abcdef01234567';
  const deployed = parseConfig({
    apiUrl: 'https://api.example.com',
    auth: { mode: 'cognito', region: 'eu-west-1', userPoolId: 'eu-west-1_abc', clientId: 'c', domain: 'd' },
    region: 'eu-west-1',
  });
  assert.equal(
    traceUrl(deployed, traceId),
    'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#xray:traces/1-6756a3c0-0123456789abcdef01234567',
  );
  const local = parseConfig(
    JSON.parse(readFileSync(new URL('../../console/public/config.json', import.meta.url), 'utf8')),
  );
  assert.equal(local.region, undefined, 'the local runtime is no stage');
  assert.equal(traceUrl(local, traceId), undefined);
  assert.throws(
    () => parseConfig({ auth: { mode: 'local' }, region: 'https://evil.example' }),
    /config\.json: region must be an AWS region such as "eu-west-1"/,
  );
});

test('every schedule preset is an expression AWS accepts, described as the preset says', () => {
  const expected: Record<Preset, RegExp> = {
    minutes: /every 15 minutes/i,
    daily: /at 07:05/i,
    weekdays: /07:05.*monday through friday/i,
    lastDay: /07:05.*last day of the month/i,
  };
  for (const preset of Object.keys(PRESETS) as Preset[]) {
    const expression = presetExpression(preset, 15, '07:05');
    const schedule = parseSchedule({ expression, timezone: 'Europe/Paris' }, 'REMOTE');
    assert.equal(schedule.awsExpression, expression, `${preset}: EventBridge holds it as written`);
    assert.match(schedule.describe(), expected[preset], `${preset}: ${expression}`);
    assert.equal(schedule.next(new Date('2026-03-01T00:00:00Z'), 3).length, 3, `${preset} fires`);
  }
  assert.equal(presetExpression('minutes', 1, ''), 'rate(1 minute)');
});

test('sign-in returns only to paths inside the console', () => {
  assert.equal(safeReturnTo('/runs/a%40b'), '/runs/a%40b');
  for (const hostile of ['https://evil.example', '//evil.example', '/\\evil.example', '', null, undefined]) {
    assert.equal(safeReturnTo(hostile), '/', String(hostile));
  }
});

test('the API client: bearer token, error code and field messages, 401 ends the session', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    res.setHeader('content-type', 'application/json');
    if (req.url?.startsWith('/api/jobs?')) {
      res.end(JSON.stringify({ items: [], nextCursor: 'c2' }));
    } else if (req.url === '/api/jobs' && req.method === 'POST') {
      res.statusCode = 400;
      res.end(
        JSON.stringify({
          code: 'VALIDATION_FAILED',
          message: 'the job spec is not valid',
          fields: [{ path: 'schedule.expression', message: 'minute must be 0-59' }],
        }),
      );
    } else {
      res.statusCode = 401;
      res.end(JSON.stringify({ code: 'TOKEN_EXPIRED', message: 'the token has expired; sign in again' }));
    }
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  let ended = 0;
  const client = new ApiClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: () => 'tok',
    onUnauthenticated: () => {
      ended += 1;
    },
  });
  try {
    assert.deepEqual(await client.get('/api/jobs', { q: 'x y', paused: false, pool: undefined, group: '' }), {
      items: [],
      nextCursor: 'c2',
    });
    assert.equal(seen[0], 'GET /api/jobs?q=x+y&paused=false Bearer tok', 'empty filters are left out');
    const invalid = await client.post('/api/jobs', { jobId: 'x' }).catch((e: unknown) => e);
    assert.ok(invalid instanceof ApiError);
    assert.equal(invalid.code, 'VALIDATION_FAILED');
    assert.equal(invalid.field('schedule.expression'), 'minute must be 0-59');
    assert.equal(ended, 0);
    const expired = await client.get('/api/me').catch((e: unknown) => e);
    assert.ok(expired instanceof ApiError && expired.code === 'TOKEN_EXPIRED' && expired.status === 401);
    assert.equal(ended, 1, 'a 401 tells the auth layer the session is gone');
  } finally {
    server.close();
  }
  const down = await new ApiClient({
    baseUrl: 'http://127.0.0.1:9',
    token: () => undefined,
    onUnauthenticated() {},
  })
    .get('/api/health')
    .catch((e: unknown) => e);
  assert.ok(
    down instanceof ApiError && down.code === 'NETWORK_ERROR',
    'no answer is an error with a code too',
  );
});

test("the console follows a run exactly while core's state machine says it is not final", () => {
  for (const status of RunStatuses) {
    for (const nextAttemptAt of [undefined, 1]) {
      assert.equal(
        isRunActive({ status, nextAttemptAt }),
        !isFinal({ status, nextAttemptAt }),
        `${status} ${nextAttemptAt}`,
      );
    }
  }
});

test('charts span their window: one hour of runs in the last hour is a bar among two hours, not a dot', () => {
  const counts = { SUCCEEDED: 1, FAILED: 1 };
  const lastHour = everyHour({
    from: '2026-12-07T10:20:00.000Z',
    to: '2026-12-07T11:20:00.000Z',
    hours: [{ hour: '2026-12-07T11:00:00Z', counts }],
  });
  assert.deepEqual(lastHour, [
    { at: Date.parse('2026-12-07T10:00:00Z'), counts: {} },
    { at: Date.parse('2026-12-07T11:00:00Z'), counts },
  ]);
  const day = everyHour({ from: '2026-12-06T11:20:00.000Z', to: '2026-12-07T11:20:00.000Z', hours: [] });
  assert.equal(day.length, 25);
  assert.equal(day.at(-1)?.at, Date.parse('2026-12-07T11:00:00Z'));
});

test('counts read as English: 1 line, 2 lines, 0 runs', () => {
  assert.equal(countOf(1, 'line'), '1 line');
  assert.equal(countOf(2, 'line'), '2 lines');
  assert.equal(countOf(0, 'run'), '0 runs');
});
