/**
 * Webhook and chat alert channels end to end on the emulator: contacts through the management API,
 * alerts through the alerts queue and the notifier Lambda handler, and a real HTTP receiver on
 * 127.0.0.1 that checks each signature the way docs/alerts.md tells receivers to (node:crypto only).
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { test } from 'node:test';
import { WebhookAlertSchema } from '../../core/model';
import type { NotifierConfig } from '../../core/notify';
import type { Clock } from '../../core/ports';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { apiError, useApi } from '../api/helpers';
import { drainInbox, joinFleet } from '../harness/fleet';
import { notifierWorld, type Received, startReceiver } from './helpers';

const api = useApi({ endpointPolicy: { allowLoopback: true } });

/** What a receiver does with `Clover-Signature: t=<unix>,v1=<hex>` (docs/alerts.md), in plain node:crypto. */
function verify(secret: string, r: Received, nowSeconds = Date.now() / 1000): boolean {
  const header = String(r.headers['clover-signature'] ?? '');
  const fields = Object.fromEntries(header.split(',').map((kv) => kv.split('=') as [string, string]));
  const t = Number(fields.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${r.body}`).digest();
  const given = Buffer.from(fields.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const world = (config: Partial<NotifierConfig> = {}, clock?: Clock) => notifierWorld(api, config, clock);

test('a loopback webhook gets exactly one signed alert per alert; Slack gets text + blocks; the secret is shown once', async () => {
  const w = await world();
  const receiver = await startReceiver();
  const contactId = uniqueId('ops');
  const created = await w.admin.call('createContact', {
    body: {
      contactId,
      name: 'Ops',
      email: `${contactId}@example.com`,
      channels: [
        { type: 'webhook', name: 'pager', url: `${receiver.url}/hook?token=t0p` },
        { type: 'slack', name: 'chat', url: `${receiver.url}/services/T1/B2/slacktoken` },
      ],
    },
  });
  const secret = created.channels[0]?.secret ?? '';
  assert.match(secret, /^[0-9a-f]{64}$/, 'the create response shows the generated secret');
  const read = await api.as('viewer').call('getContact', { params: { contactId } });
  assert.deepEqual(read.channels, [
    { type: 'webhook', name: 'pager', url: `${receiver.url}/hook?…`, secretSet: true },
    { type: 'slack', name: 'chat', url: `${receiver.url}/…oken`, secretSet: false },
  ]);
  assert.ok(!JSON.stringify(read).includes(secret) && !JSON.stringify(read).includes('slacktoken'));

  const jobId = uniqueId('job');
  await w.plane.jobService.define({ jobId, handler: 'reports.daily', contacts: [contactId] });
  const now = Date.now();
  await w.plane.alerts.raise({
    kind: 'failure',
    jobId,
    runId: `${jobId}@r1`,
    message: 'attempt 1 failed: <boom>',
    at: now,
  });
  await w.plane.alerts.raise({
    kind: 'lost',
    jobId,
    runId: `${jobId}@r2`,
    message: 'worker w1 lost its lease',
    at: now,
  });
  assert.deepEqual(await w.deliverAlerts(), { delivered: 2, failures: 0 });

  const hooks = receiver.at('/hook?token=t0p');
  assert.equal(hooks.length, 2);
  const alerts = await w.plane.alertStore.listByJob(jobId);
  assert.deepEqual(
    hooks.map((h) => WebhookAlertSchema.parse(JSON.parse(h.body)).alertId).sort(),
    alerts.map((a) => a.alertId).sort(),
    'one post per alert',
  );
  for (const hook of hooks) {
    assert.ok(verify(secret, hook), 'the signature verifies with the secret shown at creation');
    assert.ok(!verify('0'.repeat(64), hook), 'and not with another secret');
    assert.equal(hook.headers['content-type'], 'application/json');
    assert.equal(hook.headers['clover-alert-id'], JSON.parse(hook.body).alertId);
  }
  const body = WebhookAlertSchema.parse(JSON.parse(hooks.find((h) => h.body.includes('"failure"'))!.body));
  assert.deepEqual(
    { type: body.type, kind: body.kind, jobId: body.jobId, title: body.title, message: body.message },
    {
      type: 'alert',
      kind: 'failure',
      jobId,
      title: `Job ${jobId} failed`,
      message: 'attempt 1 failed: <boom>',
    },
  );

  const slack = receiver.at('/services/T1/B2/slacktoken');
  assert.equal(slack.length, 2);
  const message = JSON.parse(slack.find((s) => s.body.includes('failed'))!.body);
  assert.equal(message.text, `[Clover] Job ${jobId} failed`);
  assert.deepEqual(
    message.blocks.map((b: { type: string }) => b.type),
    ['header', 'section', 'context', 'actions'],
  );
  assert.deepEqual(message.blocks[0], {
    type: 'header',
    text: { type: 'plain_text', text: `Job ${jobId} failed` },
  });
  assert.deepEqual(message.blocks[1], {
    type: 'section',
    text: { type: 'mrkdwn', text: 'attempt 1 failed: &lt;boom&gt;' },
  });
  assert.match(message.blocks[3].elements[0].url, /^https:\/\/console\.example\.com\/runs\//);
  assert.equal(slack[0]?.headers['clover-signature'], undefined, 'chat webhooks are not signed');

  for (const alert of await w.plane.alertStore.listByJob(jobId)) {
    assert.equal(alert.status, 'SENT');
    assert.deepEqual(
      alert.deliveries?.map((d) => [d.type, d.status, d.attempts, d.history[0]?.httpStatus]),
      [
        ['webhook', 'SENT', 1, 200],
        ['slack', 'SENT', 1, 200],
      ],
    );
  }
  // A redelivered queue message for a SENT alert posts nothing more: the notifier's answer is the event.
  for (const alert of alerts) {
    assert.equal(
      (await w.notifier.process({ alertId: alert.alertId }, { redelivered: true })).outcome,
      'duplicate',
    );
  }
  assert.equal(receiver.received.length, 4, 'no second post');
  // The API shows each alert's deliveries, with the URL's token hidden.
  const listed = await api.as('viewer').call('listAlerts', { query: { jobId } });
  assert.equal(listed.items[0]?.deliveries?.[1]?.target, `${receiver.url}/…oken`);
});

test('a receiver answering 500 twice then 200 gets the alert on the third try; one always down is recorded FAILED with its status', async () => {
  const w = await world();
  const receiver = await startReceiver();
  receiver.script('/flaky', { status: 500 }, { status: 500, body: 'try later' });
  receiver.script(
    '/down',
    { status: 500, body: 'receiver down' },
    { status: 500, body: 'receiver down' },
    { status: 500, body: 'receiver down' },
  );
  const flaky = uniqueId('flaky');
  const down = uniqueId('down');
  let secret = '';
  for (const [contactId, path] of [
    [flaky, '/flaky'],
    [down, '/down'],
  ] as const) {
    const created = await w.admin.call('createContact', {
      body: {
        contactId,
        name: contactId,
        email: `${contactId}@example.com`,
        channels: [{ type: 'webhook', name: 'hook', url: `${receiver.url}${path}` }],
      },
    });
    if (contactId === flaky) secret = created.channels[0]?.secret ?? '';
  }
  const flakyJob = uniqueId('job');
  const downJob = uniqueId('job');
  await w.plane.jobService.define({ jobId: flakyJob, handler: 'reports.daily', contacts: [flaky] });
  await w.plane.jobService.define({ jobId: downJob, handler: 'reports.daily', contacts: [down] });
  await w.plane.alerts.raise({ kind: 'failure', jobId: flakyJob, message: 'boom', at: Date.now() });
  await w.plane.alerts.raise({ kind: 'failure', jobId: downJob, message: 'boom', at: Date.now() });
  const pass = await w.deliverAlerts();
  assert.equal(pass.failures, 1, 'only the alert to the receiver that stayed down goes back for redelivery');

  const posts = receiver.at('/flaky');
  assert.deepEqual(
    posts.map((p) => p.status),
    [500, 500, 200],
  );
  assert.equal(new Set(posts.map((p) => JSON.parse(p.body).alertId)).size, 1, 'the same alert each time');
  assert.ok(
    posts.every((p) => verify(secret, p)),
    'each try is signed',
  );
  const [sent] = await w.plane.alertStore.listByJob(flakyJob);
  assert.equal(sent?.status, 'SENT');
  assert.deepEqual(
    sent?.deliveries?.[0]?.history.map((h) => [h.httpStatus, h.error]),
    [
      [500, 'HTTP 500: ok'],
      [500, 'HTTP 500: try later'],
      [200, undefined],
    ],
  );
  assert.equal(sent?.deliveries?.[0]?.attempts, 3);

  const [failed] = await w.plane.alertStore.listByJob(downJob);
  assert.equal(failed?.status, 'FAILED');
  assert.equal(failed?.attempts, 1);
  assert.match(failed?.reason ?? '', new RegExp(`^webhook ${down}/hook: HTTP 500: receiver down$`));
  assert.equal(failed?.deliveries?.[0]?.attempts, 3);
  assert.ok(failed?.messageId, 'the mail went out; only the channel is retried');
});

test('a job failing 20 times in a row to a webhook contact: one alert post and one digest post', async () => {
  const clock = { t: Date.now(), now: () => clock.t };
  const w = await world({ windowMs: 5_000 }, clock);
  const receiver = await startReceiver();
  const contactId = uniqueId('owner');
  await w.admin.call('createContact', {
    body: {
      contactId,
      name: 'Owner',
      email: `${contactId}@example.com`,
      channels: [{ type: 'webhook', name: 'hook', url: `${receiver.url}/twenty` }],
    },
  });
  const pool = uniqueId('pool');
  const jobId = uniqueId('job');
  await w.plane.jobService.define({
    jobId,
    handler: 'reports.daily',
    contacts: [contactId],
    target: { pool },
  });
  const { worker, inbox } = await joinFleet(w.plane, api.aws.clients, {
    workerId: uniqueId('w'),
    handlers: ['reports.daily'],
    pool,
  });
  // Twenty manual fires 200 ms apart on the notifier's clock: all inside one 5 s silence window.
  for (let i = 0; i < 20; i++) {
    await w.plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
    const [envelope] = await drainInbox(inbox, 0);
    assert.ok(envelope);
    const run = await w.plane.execution.claim(envelope, worker.workerId);
    await w.plane.execution.complete(run, { status: 'FAILED', error: { code: 'E', message: `boom ${i}` } });
    await w.deliverAlerts();
    clock.t += 200;
  }
  assert.equal(receiver.at('/twenty').length, 1);
  // The window ends; the digest's delayed queue message arrives (real SQS delay) and is posted.
  clock.t += 5_000;
  for (let i = 0; i < 120 && receiver.at('/twenty').length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await w.deliverAlerts();
  }
  const posts = receiver.at('/twenty').map((p) => WebhookAlertSchema.parse(JSON.parse(p.body)));
  assert.deepEqual(
    posts.map((p) => p.type),
    ['alert', 'digest'],
  );
  assert.equal(posts[1]?.digest?.count, 19);
  assert.equal(posts[1]?.title, `Job ${jobId}: 19 more failure alerts (digest)`);
  const records = await w.plane.alertStore.listByJob(jobId, { limit: 100 });
  assert.equal(records.filter((r) => r.status === 'SUPPRESSED').length, 19);
  assert.equal(await w.deliverAlerts().then((d) => d.delivered), 0, 'nothing else queued');
  assert.equal(receiver.at('/twenty').length, 2);
});

test('bad channels are refused naming the field; nothing is written and nothing is sent', async () => {
  const w = await world();
  const receiver = await startReceiver();
  const contactId = uniqueId('bad');
  const tryCreate = async (channel: Record<string, unknown>) =>
    apiError(
      w.admin.call('createContact', {
        body: { contactId, name: 'Bad', email: 'bad@example.com', channels: [channel] as never },
      }),
    );
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ type: 'webhook', name: 'h', url: 'http://93.184.215.14/hook' }, 'channels.0.url', /must use https/],
    [
      { type: 'webhook', name: 'h', url: 'https://169.254.169.254/latest/meta-data/' },
      'channels.0.url',
      /link-local/,
    ],
    [{ type: 'slack', name: 'h', url: 'https://10.0.0.8/services/x' }, 'channels.0.url', /private/],
    [
      { type: 'teams', name: 'h', url: 'https://hooks.nowhere.invalid/workflows/x' },
      'channels.0.url',
      /unreachable: hooks\.nowhere\.invalid does not resolve/,
    ],
    [
      { type: 'webhook', name: 'h', url: `${receiver.url}/${'a'.repeat(2100)}` },
      'channels.0.url',
      /at most 2048/,
    ],
    [{ type: 'pager', name: 'h', url: `${receiver.url}/x` }, 'channels.0.type', /./],
    [
      { type: 'webhook', name: 'h', url: `${receiver.url}/x`, secret: 'short' },
      'channels.0.secret',
      /at least 32/,
    ],
  ];
  for (const [channel, field, reason] of cases) {
    const error = await tryCreate(channel);
    assert.equal(error.code, 'VALIDATION_FAILED', JSON.stringify(channel));
    assert.deepEqual(
      error.fields.map((f) => f.path),
      [field],
      JSON.stringify(channel),
    );
    assert.match(error.fields[0]?.message ?? '', reason);
  }
  assert.equal((await apiError(w.admin.call('getContact', { params: { contactId } }))).code, 'NOT_FOUND');
  // An update with a bad channel leaves the contact as it was.
  await w.admin.call('createContact', { body: { contactId, name: 'Good', email: 'good@example.com' } });
  const error = await apiError(
    w.admin.call('updateContact', {
      params: { contactId },
      body: { name: 'Changed', channels: [{ type: 'webhook', name: 'h', url: 'https://[fd00:ec2::254]/' }] },
    }),
  );
  assert.deepEqual(
    error.fields.map((f) => f.path),
    ['channels.0.url'],
  );
  const kept = await api.as('viewer').call('getContact', { params: { contactId } });
  assert.deepEqual([kept.name, kept.channels], ['Good', []]);
  assert.equal(receiver.received.length, 0, 'nothing was sent');
});
