/**
 * The CLI's errors and exit codes: each API error code, an unreachable API, usage mistakes. In process,
 * against the scripted server of cli/testing/scripted-api.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runClover } from './clover';
import type { CliIo } from './io';
import { clover, seen, useScriptedApi } from './testing/scripted-api';

useScriptedApi();

describe('errors and exit codes', () => {
  const cases: Array<[string, number, number]> = [
    ['VALIDATION_FAILED', 400, 2],
    ['INVALID_SCHEDULE', 400, 2],
    ['PAYLOAD_TOO_LARGE', 413, 2],
    ['UNSUPPORTED_MEDIA_TYPE', 415, 2],
    ['UNAUTHENTICATED', 401, 3],
    ['TOKEN_EXPIRED', 401, 3],
    ['FORBIDDEN', 403, 3],
    ['NOT_FOUND', 404, 4],
    ['ALREADY_EXISTS', 409, 5],
    ['VERSION_CONFLICT', 409, 5],
    ['RUN_NOT_IN_STATE', 409, 5],
    ['THROTTLED', 429, 6],
    ['UNAVAILABLE', 503, 6],
    ['INTERNAL', 500, 1],
  ];
  for (const [code, status, exit] of cases) {
    test(`${code} exits ${exit} and prints the code, message and fields`, async () => {
      const r = await clover(['jobs', 'get', 'x'], () => ({
        status,
        body: {
          code,
          message: 'the reason',
          fields: [{ path: 'schedule.timezone', message: 'is not a zone' }],
        },
      }));
      assert.equal(r.code, exit);
      assert.equal(r.out, '');
      assert.match(r.err, new RegExp(`^error: ${code}: the reason\n  schedule.timezone: is not a zone`));
    });
  }

  test('an unreachable API exits 6 and says where the endpoint came from', async () => {
    const io: CliIo = {
      out: () => {},
      err: (l) => errs.push(l),
      env: { CLOVER_API_URL: 'http://127.0.0.1:1' },
      cwd: '/',
    };
    const errs: string[] = [];
    assert.equal(await runClover(['jobs', 'list'], io), 6);
    assert.match(
      errs.join('\n'),
      /cannot reach the Clover API at http:\/\/127\.0\.0\.1:1[\s\S]*CLOVER_API_URL/,
    );
  });

  test('usage mistakes exit 2 before any request', async () => {
    for (const args of [
      ['jobs', 'get'],
      ['jobs', 'get', 'a', 'b'],
      ['jobs', 'list', '--bogus'],
      ['jobs', 'list', '--limit', '0'],
      ['jobs', 'trigger', 'a', '--timeout', '5'],
      ['jobs', 'create', 'a', '--payload', '{bad'],
      ['jobs', 'apply'],
      ['runs', 'list', '--status', 'DONE'],
      ['nope'],
      ['jobs', 'nope'],
    ]) {
      const r = await clover(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^error: .*\nRun 'clover[^']*--help' for usage\.$/, args.join(' '));
      assert.equal(seen.length, 0, `${args.join(' ')} sent nothing`);
    }
  });
});
