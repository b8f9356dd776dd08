/**
 * `clover alerts ack|silence|silences|unsilence` as shipped (the bundle, a real process) against the
 * local runtime's API on the emulator: exit codes and messages of the refusals, nothing changed by
 * them, and the audit entries of what was done.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useCliStack } from './helpers';

const cli = useCliStack();

test('alerts ack, silence, silences and unsilence: each audited; a second ack, an unknown alert or a past end exit non-zero and change nothing', async () => {
  const stack = await cli.ready();
  const created = await stack.cloverSetup('jobs', 'create', 'cli-alerting', '--handler', 'work');
  assert.equal(created.code, 0, created.err);
  await stack.runtime.plane.alerts.raise({
    kind: 'failure',
    jobId: 'cli-alerting',
    runId: 'cli-alerting@r1',
    message: 'attempt 1 failed: boom',
    at: Date.now(),
  });
  const listed = await stack.clover('alerts', 'list', '--job', 'cli-alerting', '--json');
  assert.equal(listed.code, 0, listed.err);
  const alertId = JSON.parse(listed.out).items[0]?.alertId as string;
  assert.ok(alertId);

  const ack = await stack.clover('alerts', 'ack', alertId, '--comment', 'rerunning by hand');
  assert.equal(ack.code, 0, ack.err);
  assert.match(ack.out, new RegExp(`^${alertId}: acknowledged by admin`));
  const again = await stack.clover('alerts', 'ack', alertId);
  assert.equal(again.code, 5, 'a conflict');
  assert.match(again.err, /^error: ALREADY_ACKNOWLEDGED: .*already acknowledged by admin/);
  const unknown = await stack.clover('alerts', 'ack', 'no-such-alert');
  assert.equal(unknown.code, 4);
  assert.match(unknown.err, /NOT_FOUND/);
  const acked = await stack.clover(
    'alerts',
    'list',
    '--job',
    'cli-alerting',
    '--status',
    'acknowledged',
    '--json',
  );
  const [record] = JSON.parse(acked.out).items;
  assert.deepEqual(
    { by: record.acknowledgement.by, comment: record.acknowledgement.comment },
    { by: 'admin', comment: 'rerunning by hand' },
  );

  const past = await stack.clover(
    'alerts',
    'silence',
    '--job',
    'cli-alerting',
    '--until',
    '2020-01-01T00:00:00Z',
  );
  assert.equal(past.code, 2);
  assert.match(past.err, /endsAt: must be in the future/);
  const neither = await stack.clover('alerts', 'silence', '--job', 'cli-alerting');
  assert.equal(neither.code, 2);
  assert.match(neither.err, /give --for DURATION or --until T/);
  const badFor = await stack.clover('alerts', 'silence', '--job', 'cli-alerting', '--for', 'soon');
  assert.equal(badFor.code, 2);
  assert.match(badFor.err, /--for takes minutes, hours or days/);
  assert.match((await stack.clover('alerts', 'silences')).out, /^No silences\.$/m, 'nothing stored');

  const silenced = await stack.clover(
    'alerts',
    'silence',
    '--job',
    'cli-alerting',
    '--for',
    '2h',
    '--comment',
    'migration',
  );
  assert.equal(silenced.code, 0, silenced.err);
  const silenceId = /^(s-[0-9a-f]{8}): cli-alerting, every kind silenced until /.exec(silenced.out)?.[1];
  assert.ok(silenceId, silenced.out);
  const silences = await stack.clover('alerts', 'silences');
  assert.match(silences.out, /^SILENCE\s+JOB\s+KIND\s+UNTIL\s+BY\s+COMMENT/);
  assert.match(
    silences.out,
    new RegExp(`${silenceId}\\s+cli-alerting\\s+\\(every kind\\).*admin\\s+migration`),
  );
  assert.equal((await stack.clover('alerts', 'unsilence', silenceId)).code, 0);
  assert.equal((await stack.clover('alerts', 'unsilence', silenceId)).code, 4);
  assert.match((await stack.clover('alerts', 'silences')).out, /^No silences\.$/m);

  const audit = await stack.api.call('listAudit', { query: { limit: 50 } });
  const actions = audit.items
    .filter((a) => a.entity === `alert:${alertId}` || a.entity === `silence:${silenceId}`)
    .map((a) => a.action)
    .sort();
  assert.deepEqual(actions, ['alert.acknowledge', 'silence.create', 'silence.delete']);
  const help = await stack.clover('alerts', '--help');
  assert.match(help.out, /ack\s+acknowledge an alert/);
  assert.match(help.out, /silence\s+silence a job's alerts/);
});
