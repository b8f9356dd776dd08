import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { onStopSignals } from './stop-signals';

function harness() {
  const source = new EventEmitter();
  let now = 1_000;
  const calls: [string, number][] = [];
  const off = onStopSignals((signal, count) => calls.push([signal, count]), {
    source: source as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
    now: () => now,
    windowMs: 1000,
  });
  return {
    calls,
    off,
    at(ms: number, signal: 'SIGINT' | 'SIGTERM') {
      now = ms;
      source.emit(signal, signal);
    },
  };
}

test('copies of one signal within the window (group signal + a launcher relay) are one stop request', () => {
  const h = harness();
  h.at(1_000, 'SIGTERM');
  h.at(1_030, 'SIGTERM'); // tsx relayed it after 30 ms
  h.at(1_400, 'SIGINT');
  assert.deepEqual(h.calls, [['SIGTERM', 1]]);
});

test('a signal sent deliberately later is the second request (force)', () => {
  const h = harness();
  h.at(1_000, 'SIGINT');
  h.at(1_010, 'SIGINT');
  h.at(3_500, 'SIGINT');
  h.at(3_520, 'SIGTERM');
  assert.deepEqual(h.calls, [
    ['SIGINT', 1],
    ['SIGINT', 2],
  ]);
});

test('the returned function removes the listeners', () => {
  const h = harness();
  h.off();
  h.at(1_000, 'SIGTERM');
  assert.deepEqual(h.calls, []);
});
