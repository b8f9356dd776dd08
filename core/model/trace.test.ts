/**
 * Reading a W3C `traceparent` (core/model/trace.ts) by the rules of W3C Trace Context: what it
 * accepts and the trace id it gives, in X-Ray's form, and the reason it gives for each value it
 * refuses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTraceparent, TraceIdSchema } from './trace';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const XRAY = '1-4bf92f35-77b34da6a3ce929d0e0e4736';

test('a traceparent of version 00, or of a higher version read by the forward-compatible rule, gives its trace id in X-Ray form', () => {
  for (const value of [
    `00-${TRACE}-${PARENT}-01`,
    `00-${TRACE}-${PARENT}-00`, // not sampled by the caller: still the run's trace
    ` 00-${TRACE}-${PARENT}-01\t`, // optional whitespace around a header value
    `01-${TRACE}-${PARENT}-01`,
    `cc-${TRACE}-${PARENT}-09-what-the-future-holds`,
  ]) {
    assert.deepEqual(readTraceparent(value), { traceId: XRAY }, value);
  }
  assert.ok(TraceIdSchema.safeParse(XRAY).success);
});

test('a malformed traceparent is refused with the reason', () => {
  const cases: Record<string, RegExp> = {
    [`ff-${TRACE}-${PARENT}-01`]: /version ff, which W3C Trace Context forbids/,
    [`00-${TRACE}-${PARENT}-01-extra`]: /fields after the flags, which version 00 does not have/,
    [`cc-${TRACE}-${PARENT}-01extra`]: /must be <version>-<32 hex trace id>/,
    [`00-${'0'.repeat(32)}-${PARENT}-01`]: /all-zero trace id/,
    [`00-${TRACE}-${'0'.repeat(16)}-01`]: /all-zero parent id/,
    [`00-${TRACE.toUpperCase()}-${PARENT}-01`]: /must be lowercase hex/,
    [`00-${TRACE.slice(1)}-${PARENT}-01`]: /must be <version>-<32 hex trace id>/,
    [`00-${TRACE}-${PARENT}`]: /must be <version>-<32 hex trace id>/,
    [`00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`]: /given more than once/,
    [XRAY]: /must be <version>-<32 hex trace id>/, // an X-Ray id is not a traceparent
    '': /must be <version>-<32 hex trace id>/,
  };
  for (const [value, reason] of Object.entries(cases)) {
    const read = readTraceparent(value);
    assert.ok('refused' in read, `${value} is refused`);
    assert.match(read.refused, reason, value);
  }
});
