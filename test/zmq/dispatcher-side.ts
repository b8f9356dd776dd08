/**
 * The dispatcher side of the ZeroMQ tests (zmq.test.ts, zmq-runs.test.ts): its CURVE keys, a transport
 * closed after each test, and the check of an `unavailable` refusal.
 */
import assert from 'node:assert/strict';
import { afterEach } from 'node:test';
import * as zmq from 'zeromq';
import { ZmqDelivery } from '../../core/adapters/zmq-delivery';
import { CloverError } from '../../core/errors';
import { silentLogger } from '../../core/log';
import { Closer } from './helpers';

export const dispatcherKeys = zmq.curveKeyPair();
export const closer = new Closer();
afterEach(() => closer.closeAll());

/**
 * A dispatcher-side transport. The acknowledgement deadline defaults to 30 s: a failure bound for a
 * loaded machine where a send should succeed; tests of deadlines pass their own short one.
 */
export function delivery(options: Partial<ConstructorParameters<typeof ZmqDelivery>[0]> = {}): ZmqDelivery {
  return closer.add(
    new ZmqDelivery({ keys: dispatcherKeys, log: silentLogger, deadlineMs: 30_000, ...options }),
  );
}

export function isUnavailable(reason: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof CloverError, `a CloverError, got ${String(error)}`);
    assert.equal(error.code, 'unavailable');
    assert.equal(error.retryable, true);
    assert.equal(error.details.reason, reason, error.message);
    return true;
  };
}
