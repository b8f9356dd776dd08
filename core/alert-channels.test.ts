import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  channelRequest,
  REPLAY_WINDOW_SECONDS,
  signWebhook,
  slackMessage,
  teamsMessage,
  verifyWebhookSignature,
  webhookAlert,
} from './alert-channels';
import { addressRefusal, EndpointGuard } from './endpoints';
import { ValidationError } from './errors';
import { type AlertRecord, contactView, fireRunId, WebhookAlertSchema } from './model';
import { alertingWorld } from './testing/alerting-world';
import { StaticHostResolver } from './testing/memory-channels';

const at = Date.parse('2026-01-30T10:00:00Z');
const alert: AlertRecord = {
  alertId: '20260130T100000Z-failure-abcd1234',
  kind: 'failure',
  jobId: 'nightly',
  runId: 'nightly@2026-01-30T10:00:00Z',
  message: 'attempt 1 failed: <!channel> & boom',
  createdAt: at,
  updatedAt: at,
  status: 'PENDING',
  attempts: 0,
  recipients: [],
};
const consoleUrl = 'https://console.example.com';
const SECRET = 'x'.repeat(40);

describe('webhook signature', () => {
  test('is HMAC-SHA256 of "<t>.<body>", verified within the replay window only, for the exact body', () => {
    const body = JSON.stringify(webhookAlert(alert, consoleUrl));
    const header = signWebhook(SECRET, body, 1_800_000_000);
    const expected = createHmac('sha256', SECRET).update(`1800000000.${body}`).digest('hex');
    assert.equal(header, `t=1800000000,v1=${expected}`);
    assert.ok(verifyWebhookSignature(SECRET, header, body, 1_800_000_000 + REPLAY_WINDOW_SECONDS));
    assert.ok(
      !verifyWebhookSignature(SECRET, header, body, 1_800_000_000 + REPLAY_WINDOW_SECONDS + 1),
      'replayed late',
    );
    assert.ok(!verifyWebhookSignature(SECRET, header, `${body} `, 1_800_000_000), 'body changed');
    assert.ok(!verifyWebhookSignature(`${SECRET}y`, header, body, 1_800_000_000), 'another secret');
    assert.ok(!verifyWebhookSignature(SECRET, 't=abc,v1=00', body, 1_800_000_000), 'malformed');
  });

  test('a webhook request carries the JSON alert, its id and a signature made at send time', () => {
    const request = channelRequest(
      { type: 'webhook', name: 'pager', url: 'https://hooks.example.com/x', secret: SECRET },
      alert,
      consoleUrl,
      at,
    );
    const body = WebhookAlertSchema.parse(JSON.parse(request.body));
    assert.equal(body.schema, 'clover.alert/v1');
    assert.equal(body.type, 'alert');
    assert.equal(body.url, 'https://console.example.com/runs/nightly%402026-01-30T10%3A00%3A00Z');
    assert.equal(request.headers['clover-alert-id'], alert.alertId);
    assert.ok(
      verifyWebhookSignature(SECRET, request.headers['clover-signature'] ?? '', request.body, at / 1000),
    );
  });
});

describe('chat formats', () => {
  test('Slack: text plus header, section, context and a button; markup escaped', () => {
    const message = slackMessage(alert, consoleUrl);
    assert.equal(message.text, '[Clover] Job nightly failed');
    assert.deepEqual(
      message.blocks.map((b) => b.type),
      ['header', 'section', 'context', 'actions'],
    );
    assert.deepEqual(message.blocks[1], {
      type: 'section',
      text: { type: 'mrkdwn', text: 'attempt 1 failed: &lt;!channel&gt; &amp; boom' },
    });
    assert.equal(
      (message.blocks[3] as { elements: { url: string }[] }).elements[0]?.url,
      'https://console.example.com/runs/nightly%402026-01-30T10%3A00%3A00Z',
    );
  });

  test('Teams: a message with one Adaptive Card 1.4 attachment', () => {
    const message = teamsMessage(
      { ...alert, digest: { windowStart: at, windowEnd: at + 900_000, count: 3, entries: [] } },
      consoleUrl,
    );
    assert.equal(message.type, 'message');
    const [attachment] = message.attachments;
    assert.equal(attachment?.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(attachment?.content.type, 'AdaptiveCard');
    assert.equal(attachment?.content.version, '1.4');
    assert.equal(attachment?.content.body[0]?.text, 'Job nightly: 3 more failure alerts (digest)');
    assert.equal(attachment?.content.actions[0]?.url, 'https://console.example.com/jobs/nightly');
  });
});

describe('endpoint policy', () => {
  test('refuses metadata, private, loopback and reserved addresses; loopback only when allowed', () => {
    for (const address of [
      '169.254.169.254',
      '10.0.0.1',
      '172.16.5.5',
      '192.168.1.1',
      '0.0.0.0',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:169.254.169.254',
    ]) {
      assert.match(
        addressRefusal(address, { allowLoopback: true }) ?? '',
        /private, link-local or reserved/,
        address,
      );
    }
    assert.match(addressRefusal('127.0.0.1', {}) ?? '', /loopback/);
    assert.equal(addressRefusal('127.0.0.1', { allowLoopback: true }), null);
    assert.equal(addressRefusal('::1', { allowLoopback: true }), null);
    assert.equal(addressRefusal('93.184.215.14', {}), null);
  });

  test('checks scheme and DNS at define time', async () => {
    const resolver = new StaticHostResolver({ 'inside.example.org': ['10.0.0.7'], localhost: ['127.0.0.1'] });
    const aws = new EndpointGuard({ resolver, policy: {} });
    const local = new EndpointGuard({ resolver, policy: { allowLoopback: true } });
    assert.equal(await aws.refusal('https://hooks.example.com/a'), null);
    assert.match((await aws.refusal('http://hooks.example.com/a')) ?? '', /must use https/);
    assert.match(
      (await aws.refusal('https://nowhere.invalid/a')) ?? '',
      /unreachable: nowhere.invalid does not resolve \(ENOTFOUND\)/,
    );
    assert.match(
      (await aws.refusal('https://inside.example.org/a')) ?? '',
      /resolves to 10.0.0.7, which is a private/,
    );
    assert.match((await aws.refusal('https://169.254.169.254/latest')) ?? '', /link-local/);
    assert.match((await aws.refusal('https://localhost:8443/')) ?? '', /loopback/);
    assert.equal(await local.refusal('http://127.0.0.1:9000/hook'), null);
    assert.equal(await local.refusal('http://localhost:9000/hook'), null);
    assert.match((await local.refusal('http://hooks.example.com/a')) ?? '', /must use https/);
  });
});

describe('contacts with channels', () => {
  const expectFields = async (promise: Promise<unknown>, fields: string[], reason?: RegExp) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof ValidationError, String(error));
      assert.deepEqual(
        error.issues.map((i) => i.field),
        fields,
      );
      if (reason) assert.match(error.message, reason);
      return true;
    });
  };

  test('bad channels are refused naming the field, and nothing is written', async () => {
    const w = alertingWorld();
    const base = { contactId: 'ops', name: 'Ops', email: 'ops@example.com' };
    const create = (channel: unknown) => w.contacts.create({ ...base, channels: [channel] });
    await expectFields(
      create({ type: 'webhook', name: 'h', url: 'http://hooks.example.com/x' }),
      ['channels.0.url'],
      /must use https/,
    );
    await expectFields(
      create({ type: 'webhook', name: 'h', url: `https://hooks.example.com/${'a'.repeat(2100)}` }),
      ['channels.0.url'],
      /at most 2048/,
    );
    await expectFields(
      create({ type: 'webhook', name: 'h', url: 'https://nowhere.invalid/x' }),
      ['channels.0.url'],
      /does not resolve/,
    );
    await expectFields(
      create({ type: 'slack', name: 'h', url: 'https://intranet.example/x' }),
      ['channels.0.url'],
      /private/,
    );
    await expectFields(
      create({ type: 'webhook', name: 'h', url: 'https://169.254.169.254/latest/meta-data' }),
      ['channels.0.url'],
      /link-local/,
    );
    await expectFields(create({ type: 'pager', name: 'h', url: 'https://hooks.example.com/x' }), [
      'channels.0.type',
    ]);
    await expectFields(create({ type: 'webhook', name: 'h', url: 'ftp://hooks.example.com/x' }), [
      'channels.0.url',
    ]);
    await expectFields(
      create({ type: 'webhook', name: 'h', url: 'https://hooks.example.com/x', secret: 'short' }),
      ['channels.0.secret'],
    );
    await expectFields(
      create({ type: 'slack', name: 'h', url: 'https://hooks.example.com/x', secret: 'x'.repeat(40) }),
      ['channels.0.secret'],
    );
    await expectFields(
      w.contacts.create({
        ...base,
        channels: Array.from({ length: 11 }, (_, i) => ({
          type: 'slack',
          name: `s${i}`,
          url: 'https://hooks.example.com/x',
        })),
      }),
      ['channels'],
    );
    assert.deepEqual(await w.contacts.list(), []);
  });

  test('a generated secret is stored, hidden from views, and kept or rotated on update', async () => {
    const w = alertingWorld();
    const created = await w.contacts.create({
      contactId: 'ops',
      name: 'Ops',
      email: 'ops@example.com',
      channels: [
        { type: 'webhook', name: 'pager', url: 'https://hooks.example.com/in?token=abc' },
        { type: 'slack', name: 'chat', url: 'https://hooks.slack.example/services/T1/B2/secretXYZ1' },
      ],
    });
    const secret = created.channels[0]?.type === 'webhook' ? created.channels[0].secret : undefined;
    assert.match(secret ?? '', /^[0-9a-f]{64}$/);
    const view = contactView(created);
    assert.deepEqual(view.channels, [
      { type: 'webhook', name: 'pager', url: 'https://hooks.example.com/in?…', secretSet: true },
      { type: 'slack', name: 'chat', url: 'https://hooks.slack.example/…XYZ1', secretSet: false },
    ]);
    assert.ok(!JSON.stringify(view).includes(secret ?? '-'));
    assert.ok(!JSON.stringify(view).includes('secretXYZ1'));
    // An update naming the channels without URLs keeps URLs and the secret; rotateSecret makes a new one.
    const kept = await w.contacts.update('ops', {
      name: 'Ops team',
      channels: [
        { type: 'webhook', name: 'pager' },
        { type: 'slack', name: 'chat' },
      ],
    });
    assert.deepEqual(kept.channels, created.channels);
    const rotated = await w.contacts.update('ops', {
      channels: [{ type: 'webhook', name: 'pager', rotateSecret: true }],
    });
    assert.equal(rotated.channels.length, 1);
    const next = rotated.channels[0]?.type === 'webhook' ? rotated.channels[0].secret : undefined;
    assert.match(next ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(next, secret);
    await expectFields(w.contacts.update('ops', { channels: [{ type: 'teams', name: 'new' }] }), [
      'channels.0.url',
    ]);
  });
});

describe('Notifier with channels', () => {
  const webhookContact = (w: ReturnType<typeof alertingWorld>) =>
    w.contacts.create({
      contactId: 'owner',
      name: 'Owner',
      email: 'owner@example.com',
      channels: [{ type: 'webhook', name: 'pager', url: 'https://hooks.example.com/in', secret: SECRET }],
    });

  test('retries a 500 with backoff in one pass, records every attempt, mails once', async () => {
    const w = alertingWorld();
    await webhookContact(w);
    await w.job();
    w.channels.script.push(500, { status: 503, body: 'down\nfor maintenance' });
    await w.alerts.raise({
      kind: 'failure',
      jobId: 'report',
      runId: 'r1',
      message: 'boom',
      at: w.clock.now(),
    });
    await w.notifyAll();
    const record = [...w.alertStore.records.values()][0]!;
    assert.equal(record.status, 'SENT');
    assert.equal(w.mailer.sent.length, 1);
    assert.equal(w.channels.posts.length, 3);
    assert.deepEqual(w.sleeps, [1000, 2000]);
    const [delivery] = record.deliveries ?? [];
    assert.equal(delivery?.status, 'SENT');
    assert.equal(delivery?.attempts, 3);
    assert.deepEqual(
      delivery?.history.map((h) => [h.httpStatus, h.error]),
      [
        [500, 'HTTP 500'],
        [503, 'HTTP 503: down for maintenance'],
        [200, undefined],
      ],
    );
  });

  test('a channel failing every try: FAILED with the status, retried on redelivery without mailing again', async () => {
    const w = alertingWorld({ notifier: { maxAttempts: 2 } });
    await webhookContact(w);
    await w.job();
    w.channels.script.push(404, 404);
    await w.alerts.raise({
      kind: 'failure',
      jobId: 'report',
      runId: 'r1',
      message: 'boom',
      at: w.clock.now(),
    });
    const [message] = w.queue.take();
    const first = await w.notifier.process(message!);
    assert.deepEqual([first.outcome, first.retry], ['failed', true]);
    let record = (await w.alertStore.get(message!.alertId))!;
    assert.equal(record.status, 'FAILED');
    assert.match(record.reason ?? '', /^webhook owner\/pager: HTTP 404/);
    assert.equal(record.deliveries?.[0]?.attempts, 1, 'a 404 is not retried at once');
    assert.equal(w.mailer.sent.length, 1);
    const second = await w.notifier.process(message!, { redelivered: true });
    assert.deepEqual([second.outcome, second.retry], ['gave_up', false]);
    record = (await w.alertStore.get(message!.alertId))!;
    assert.match(record.reason ?? '', /^gave up after 2 attempts: webhook owner\/pager: HTTP 404/);
    assert.equal(w.mailer.sent.length, 1, 'the mail went out once');
    assert.equal(record.deliveries?.[0]?.attempts, 2);
  });

  test('failing 20 times: one post and one digest post per channel, as for mail', async () => {
    const w = alertingWorld({ leaseMs: 3_600_000, notifier: { windowMs: 15 * 60_000 } });
    await webhookContact(w);
    await w.job();
    await w.worker('a');
    for (let i = 0; i < 20; i++) {
      const scheduledTime = new Date(w.clock.now()).toISOString().replace('.000', '');
      await w.dispatcher.fire({ jobId: 'report', scheduledTime });
      await w.execution.complete(await w.claim(fireRunId('report', scheduledTime)), {
        status: 'FAILED',
        error: { code: 'E', message: `boom ${i}` },
      });
      await w.notifyAll();
      w.clock.advance(30_000);
    }
    assert.equal(w.channels.posts.length, 1);
    w.clock.advance(15 * 60_000);
    await w.notifyAll();
    assert.equal(w.channels.posts.length, 2);
    const digest = WebhookAlertSchema.parse(JSON.parse(w.channels.posts[1]!.body));
    assert.equal(digest.type, 'digest');
    assert.equal(digest.digest?.count, 19);
  });
});
