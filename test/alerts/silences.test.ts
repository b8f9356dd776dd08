/**
 * Acknowledging and silencing alerts over real HTTP on the emulator: the management API (roles,
 * audit, the errors that change nothing), the alert list's filters, and the notifier Lambda handler
 * honouring a silence (nothing in the SES outbox, nothing posted to the webhook receiver).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertRecord } from '../../core/model';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { apiError, useApi } from '../api/helpers';
import { notifierWorld, startReceiver } from './helpers';

const api = useApi({ endpointPolicy: { allowLoopback: true } });
const HOUR = 3_600_000;

let lastAt = 0;

/** A job, an alert of it raised through the real hook (alerts table + queue), and the record. */
async function raised(jobId: string, kind: AlertRecord['kind'] = 'failure', contacts: string[] = []) {
  const { plane } = api;
  if (!(await plane.jobs.get(jobId)))
    await plane.jobService.define({ jobId, handler: 'reports.daily', contacts });
  // Distinct instants, so "newest first" has one answer.
  const at = Math.max(Date.now(), lastAt + 1);
  lastAt = at;
  await plane.alerts.raise({ kind, jobId, runId: `${jobId}@${at}`, message: `${kind} of ${jobId}`, at });
  const [record] = await plane.alertStore.listByJob(jobId, { limit: 1 });
  assert.ok(record);
  return record;
}

/** Audit entries of one entity. */
async function audited(entity: string) {
  return (await api.as('viewer').call('listAudit', { query: { entity } })).items;
}

test('an operator acknowledges an alert once, audited; a second one, an unknown alert or a viewer change nothing', async () => {
  await api.ready();
  const alert = await raised(uniqueId('ack'));
  const operator = api.as('operator');
  const taken = await operator.call('acknowledgeAlert', {
    params: { alertId: alert.alertId },
    body: { comment: 'on it' },
  });
  assert.equal(taken.acknowledgement?.by, 'operator-user');
  assert.equal(taken.acknowledgement?.comment, 'on it');
  assert.equal(taken.status, alert.status, 'the delivery state is not touched');
  const [entry, ...more] = await audited(`alert:${alert.alertId}`);
  assert.equal(more.length, 0);
  assert.equal(entry?.action, 'alert.acknowledge');
  assert.equal(entry?.actor.subject, 'operator-user');

  const stored = await api.plane.alertStore.get(alert.alertId);
  const again = await apiError(
    api.as('admin').call('acknowledgeAlert', { params: { alertId: alert.alertId }, body: {} }),
  );
  assert.equal(again.status, 409);
  assert.equal(again.code, 'ALREADY_ACKNOWLEDGED');
  assert.deepEqual(
    again.fields.map((f) => f.path),
    ['alertId'],
  );
  assert.match(again.message, /already acknowledged by operator-user/);
  const unknown = uniqueId('no-such-alert');
  const missing = await apiError(
    operator.call('acknowledgeAlert', { params: { alertId: unknown }, body: {} }),
  );
  assert.equal(missing.status, 404);
  assert.equal(missing.code, 'NOT_FOUND');
  assert.deepEqual(
    missing.fields.map((f) => f.path),
    ['alertId'],
  );
  // The table's other items (silences, windows) are no alerts either.
  assert.equal(
    (await apiError(operator.call('acknowledgeAlert', { params: { alertId: 'silences' }, body: {} }))).code,
    'NOT_FOUND',
  );
  const other = await raised(uniqueId('ack'));
  const forbidden = await apiError(
    api.as('viewer').call('acknowledgeAlert', { params: { alertId: other.alertId }, body: {} }),
  );
  assert.equal(forbidden.code, 'FORBIDDEN');

  // Nothing changed: the records are as they were, and no audit entry was added.
  assert.deepEqual(await api.plane.alertStore.get(alert.alertId), stored);
  assert.equal(await api.plane.alertStore.get(unknown), null);
  assert.equal((await api.plane.alertStore.get(other.alertId))?.acknowledgement, undefined);
  assert.equal((await audited(`alert:${alert.alertId}`)).length, 1);
  assert.equal((await audited(`alert:${unknown}`)).length, 0);
  assert.equal((await audited(`alert:${other.alertId}`)).length, 0);
});

test('silences: bad ones are refused naming the field and store nothing; one is created, listed and ended, audited', async () => {
  await api.ready();
  const operator = api.as('operator');
  const jobId = uniqueId('sil');
  await api.plane.jobService.define({ jobId, handler: 'reports.daily' });
  const before = (await operator.call('listSilences', {})).items;
  const refused = async (body: Record<string, unknown>) =>
    apiError(operator.call('createSilence', { body: body as never }));
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ jobId, endsAt: new Date(Date.now() - 60_000).toISOString() }, 'endsAt', /must be in the future/],
    [{ jobId, endsAt: new Date(Date.now() + 40 * 24 * HOUR).toISOString() }, 'endsAt', /at most 31 days/],
    [{ endsAt: new Date(Date.now() + HOUR).toISOString() }, 'jobId', /give jobId, kind or both/],
    [
      { jobId: uniqueId('ghost'), endsAt: new Date(Date.now() + HOUR).toISOString() },
      'jobId',
      /does not exist/,
    ],
    [{ jobId, endsAt: 'tomorrow' }, 'endsAt', /ISO-8601/],
    [{ kind: 'meteor', endsAt: new Date(Date.now() + HOUR).toISOString() }, 'kind', /./],
  ];
  for (const [body, field, reason] of cases) {
    const error = await refused(body);
    assert.equal(error.status, 400, JSON.stringify(body));
    assert.equal(error.code, 'VALIDATION_FAILED');
    const named = error.fields.find((f) => f.path === field);
    assert.ok(named, `${JSON.stringify(body)} names ${field}: ${JSON.stringify(error.fields)}`);
    assert.match(named.message, reason);
  }
  assert.deepEqual((await operator.call('listSilences', {})).items, before, 'nothing stored');
  assert.equal(
    (
      await apiError(
        api
          .as('viewer')
          .call('createSilence', { body: { jobId, endsAt: new Date(Date.now() + HOUR).toISOString() } }),
      )
    ).code,
    'FORBIDDEN',
  );

  const endsAt = new Date(Date.now() + 2 * HOUR).toISOString();
  const silence = await operator.call('createSilence', {
    body: { jobId, kind: 'failure', endsAt, comment: 'deploying' },
  });
  assert.deepEqual(
    { jobId: silence.jobId, kind: silence.kind, endsAt: silence.endsAt, by: silence.createdBy },
    { jobId, kind: 'failure', endsAt: Date.parse(endsAt), by: 'operator-user' },
  );
  const listed = (await api.as('viewer').call('listSilences', {})).items;
  assert.deepEqual(
    listed.find((s) => s.silenceId === silence.silenceId),
    silence,
  );
  await operator.call('deleteSilence', { params: { silenceId: silence.silenceId } });
  const gone = await apiError(operator.call('deleteSilence', { params: { silenceId: silence.silenceId } }));
  assert.equal(gone.code, 'NOT_FOUND');
  assert.equal(
    (await operator.call('listSilences', {})).items.some((s) => s.silenceId === silence.silenceId),
    false,
  );
  assert.deepEqual((await audited(`silence:${silence.silenceId}`)).map((a) => a.action).sort(), [
    'silence.create',
    'silence.delete',
  ]);
});

test('the notifier honours a silence: the job silenced is recorded SILENCED, mailed and posted nothing; others go out', async () => {
  const w = await notifierWorld(api);
  const receiver = await startReceiver();
  const contactId = uniqueId('ops');
  await w.admin.call('createContact', {
    body: {
      contactId,
      name: 'Ops',
      email: `${contactId}@example.com`,
      channels: [{ type: 'webhook', name: 'pager', url: `${receiver.url}/pager` }],
    },
  });
  const quiet = uniqueId('quiet');
  const loud = uniqueId('loud');
  await w.deliverAlerts(); // what earlier tests left queued
  await api.plane.jobService.define({ jobId: quiet, handler: 'reports.daily', contacts: [contactId] });
  const silence = await api.as('operator').call('createSilence', {
    body: { jobId: quiet, endsAt: new Date(Date.now() + HOUR).toISOString() },
  });
  const mailsBefore = (await api.aws.sentEmails()).length;
  const silenced = await raised(quiet, 'failure', [contactId]);
  const sent = await raised(loud, 'failure', [contactId]);
  assert.deepEqual(await w.deliverAlerts(), { delivered: 2, failures: 0 });

  const record = await w.plane.alertStore.get(silenced.alertId);
  assert.equal(record?.status, 'SILENCED');
  assert.equal(record?.silencedBy, silence.silenceId);
  assert.match(
    record?.reason ?? '',
    new RegExp(`by operator-user \\(job ${quiet}; silence ${silence.silenceId}\\)`),
  );
  assert.equal((await w.plane.alertStore.get(sent.alertId))?.status, 'SENT');
  const posted = receiver.at('/pager').map((r) => JSON.parse(r.body).jobId);
  assert.deepEqual(posted, [loud]);
  const mails = (await api.aws.sentEmails()).slice(mailsBefore);
  assert.equal(mails.length, 1);
  assert.ok(
    mails.every((m) => !JSON.stringify(m).includes(quiet)),
    'no mail about the silenced job',
  );

  // The list shows it under SILENCED; ended, the silence lets the next alert through.
  const listed = await api.as('viewer').call('listAlerts', { query: { jobId: quiet, status: 'SILENCED' } });
  assert.deepEqual(
    listed.items.map((a) => a.alertId),
    [silenced.alertId],
  );
  await api.as('operator').call('deleteSilence', { params: { silenceId: silence.silenceId } });
  const after = await raised(quiet, 'timeout', [contactId]);
  await w.deliverAlerts();
  assert.equal((await w.plane.alertStore.get(after.alertId))?.status, 'SENT');
  assert.deepEqual(
    receiver.at('/pager').map((r) => JSON.parse(r.body).jobId),
    [loud, quiet],
  );
});

test('the alert list filters by kind, job, status (OPEN, ACKNOWLEDGED, a delivery status) and window, paged', async () => {
  await api.ready();
  const jobId = uniqueId('list');
  const a = await raised(jobId, 'failure');
  const b = await raised(jobId, 'timeout');
  const c = await raised(jobId, 'failure');
  await api.as('operator').call('acknowledgeAlert', { params: { alertId: b.alertId }, body: {} });
  const viewer = api.as('viewer');
  const ids = async (query: Record<string, string | number>) =>
    (await viewer.call('listAlerts', { query: { jobId, ...query } })).items.map((x) => x.alertId);
  assert.deepEqual(await ids({ kind: 'failure' }), [c.alertId, a.alertId]);
  assert.deepEqual(await ids({ status: 'ACKNOWLEDGED' }), [b.alertId]);
  assert.deepEqual(await ids({ status: 'OPEN' }), [c.alertId, a.alertId], 'PENDING and unacknowledged');
  assert.deepEqual(await ids({ status: 'OPEN', kind: 'timeout' }), []);
  assert.deepEqual(await ids({ status: 'PENDING', kind: 'timeout' }), [b.alertId]);
  assert.deepEqual(await ids({ to: a.createdAt - 1 }), []);
  assert.deepEqual(await ids({ from: a.createdAt, to: c.createdAt }), [c.alertId, b.alertId, a.alertId]);
  // Across jobs (the byDay index) the same filters hold.
  const across = await viewer.call('listAlerts', { query: { status: 'ACKNOWLEDGED', from: a.createdAt } });
  assert.ok(across.items.some((x) => x.alertId === b.alertId));
  assert.ok(across.items.every((x) => x.acknowledgement !== undefined));
  // Paged: one a page, each cursor leading to the next.
  const first = await viewer.call('listAlerts', { query: { jobId, kind: 'failure', limit: 1 } });
  assert.deepEqual(
    first.items.map((x) => x.alertId),
    [c.alertId],
  );
  assert.ok(first.nextCursor);
  const second = await viewer.call('listAlerts', {
    query: { jobId, kind: 'failure', limit: 1, cursor: first.nextCursor },
  });
  assert.deepEqual(
    second.items.map((x) => x.alertId),
    [a.alertId],
  );
  assert.equal(second.nextCursor, undefined);
  const bad = await apiError(viewer.call('listAlerts', { query: { status: 'CLOSED' } }));
  assert.equal(bad.code, 'VALIDATION_FAILED');
  assert.deepEqual(
    bad.fields.map((f) => f.path),
    ['query.status'],
  );
});
