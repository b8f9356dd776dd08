import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../core/log';
import type { NotifyResult } from '../../core/notify';
import { makeNotifierHandler } from './handler';

test('reports failed sends, errors and malformed bodies as batch item failures, and nothing else', async () => {
  const outcomes: Record<string, NotifyResult | Error> = {
    sent: { outcome: 'sent', retry: false },
    failed: { outcome: 'failed', retry: true, reason: 'SES rejected the message' },
    boom: new Error('alerts table unavailable'),
  };
  const seen: [string, boolean][] = [];
  const handler = makeNotifierHandler({
    log: silentLogger,
    notifier: {
      async process(message, options) {
        seen.push([message.alertId, options?.redelivered ?? false]);
        const out = outcomes[message.alertId]!;
        if (out instanceof Error) throw out;
        return out;
      },
    },
  });
  const body = (alertId: string) => JSON.stringify({ v: 1, alertId });
  const result = await handler({
    Records: [
      { messageId: 'm1', body: body('sent') },
      { messageId: 'm2', body: body('failed'), attributes: { ApproximateReceiveCount: '3' } },
      { messageId: 'm3', body: body('boom') },
      { messageId: 'm4', body: '{"alertId": 7}' },
    ],
  });
  assert.deepEqual(result, {
    batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }, { itemIdentifier: 'm4' }],
  });
  assert.deepEqual(seen, [
    ['sent', false],
    ['failed', true],
    ['boom', false],
  ]);
});
