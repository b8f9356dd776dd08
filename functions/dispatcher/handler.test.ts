/**
 * The dispatcher's routing of the planner schedule's invocations (`{planner: true, scheduledTime}`,
 * infra/constructs/planner-schedule.ts) on the in-memory control plane; the shipped bundle is run
 * with Scheduler's input against the emulator in test/bundles/bundles.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dispatcher } from '../../core/dispatch';
import { jsonLogger, silentLogger } from '../../core/log';
import { isoSeconds } from '../../core/model';
import { Planner, plannerInput } from '../../core/planner';
import { alertingWorld, WORLD_T0 } from '../../core/testing/alerting-world';
import { WorkerDirectory } from '../../core/worker-directory';
import { emfMetrics } from '../metrics';
import { makeDispatcherHandler } from './handler';

async function world() {
  const w = alertingWorld({ leaseMs: 600_000 });
  await w.worker('w1', { features: ['precise'] });
  await w.jobService.define({
    jobId: 'tick',
    handler: 'reports.daily',
    precision: 'SECOND',
    schedule: { expression: '*/30 * * * * ?' },
    contacts: [],
  });
  return w;
}

test('GIVEN a planner invocation WHEN the dispatcher handles it THEN the planner plans the window, its outcomes are metrics, and a repeat plans nothing new', async () => {
  const w = await world();
  const lines: string[] = [];
  const handler = makeDispatcherHandler({
    dispatcher: w.dispatcher,
    log: silentLogger,
    metrics: emfMetrics({ stage: 'clover-test', fn: 'dispatcher', write: (line) => lines.push(line) }),
    planner: new Planner({ ...w, log: silentLogger }),
  });
  const event = plannerInput(isoSeconds(WORLD_T0));
  const first = await handler(event);
  assert.equal(first.status, 'planner');
  assert.equal('report' in first && first.report.planned, 6, '180 s of */30 s instants');
  const placeholder = await w.runs.get(`tick@${isoSeconds(WORLD_T0 + 30_000)}`);
  assert.equal(placeholder?.reason, 'planned');
  const planned = lines.map((line) => JSON.parse(line)).find((m) => m.Outcome === 'planned');
  assert.equal(planned?.PlannedFires, 6, lines.join('\n'));
  const again = await handler(event);
  assert.equal('report' in again && again.report.alreadyPlanned, 6);
  assert.equal(w.delivery.delivered.length, 6, 'one plan envelope per fire');
});

test('GIVEN a malformed planner invocation, or one to a dispatcher without a planner, WHEN handled THEN it is answered invalid naming the field and nothing is planned', async () => {
  const w = await world();
  const planner = new Planner({ ...w, log: silentLogger });
  const handler = makeDispatcherHandler({ dispatcher: w.dispatcher, log: silentLogger, planner });
  const bad = await handler({ planner: true, scheduledTime: 'soon' });
  assert.equal(bad.status, 'invalid');
  assert.match(JSON.stringify(bad), /event\.scheduledTime/);
  const extra = await handler({ ...plannerInput(isoSeconds(WORLD_T0)), jobId: 'tick' });
  assert.match(JSON.stringify(extra), /invalid.*jobId/);
  const without = makeDispatcherHandler({ dispatcher: w.dispatcher, log: silentLogger });
  const none = await without(plannerInput(isoSeconds(WORLD_T0)));
  assert.match(JSON.stringify(none), /event\.planner: this dispatcher runs no planner/);
  assert.equal(w.delivery.delivered.length, 0);
});

test('GIVEN a fire that goes as planned WHEN the dispatcher handles it THEN its log is one line, the metric line naming its job, run, worker and trace; the core logs it at debug only', async () => {
  const w = await world();
  await w.jobService.define({ jobId: 'plain', handler: 'reports.daily', contacts: [] });
  const logged: { level: string; message: string }[] = [];
  const log = jsonLogger({ level: 'debug', write: (line) => logged.push(JSON.parse(line)) });
  const dispatcher = new Dispatcher({
    jobs: w.jobs,
    runs: w.runs,
    locks: w.locks,
    workers: new WorkerDirectory(w.registry, 0),
    delivery: w.delivery,
    clock: w.clock,
    log,
    alerts: { raise: async () => {} },
  });
  const lines: string[] = [];
  const handler = makeDispatcherHandler({
    dispatcher,
    log,
    metrics: emfMetrics({ stage: 'clover-test', fn: 'dispatcher', write: (line) => lines.push(line) }),
    now: () => w.clock.now(),
  });
  const scheduledTime = isoSeconds(WORLD_T0);
  const result = await handler({ jobId: 'plain', scheduledTime });
  assert.equal(result.status, 'dispatched');
  assert.equal(lines.length, 1, `one metric line: ${lines.join('\n')}`);
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  const run = await w.runs.get(`plain@${scheduledTime}`);
  assert.deepEqual(
    [line.Outcome, line.Fires, line.FireLatenessMs, line.jobId, line.runId, line.workerId, line.traceId],
    ['dispatched', 1, 0, 'plain', run?.runId, 'w1', run?.traceId],
  );
  assert.ok(typeof run?.traceId === 'string');
  assert.deepEqual(
    logged.filter((l) => l.level !== 'debug'),
    [],
    'nothing above debug for a fire that went as planned',
  );
  assert.deepEqual(
    logged.map((l) => l.message),
    ['run created', 'run dispatched'],
  );
});
