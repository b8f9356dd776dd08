/**
 * One trace per fire (#28; docs/architecture.md, "Following a fire"): a fire made by the dispatcher's
 * Lambda handler inside an X-Ray trace — Lambda's `_X_AMZN_TRACE_ID`, as functions/telemetry.ts reads
 * it — carries that trace id to the dispatcher's log line, the run record, the envelope, a real agent
 * process's log lines for the run and the handler's context and environment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { jsonLogger } from '../../core/log';
import { type Run, traceIdFromXrayHeader } from '../../core/model';
import { makeDispatcherHandler } from '../../functions/dispatcher/handler';
import { useEmulator } from '../harness';
import { TEST_HANDLERS, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

const TRACE_ID = '1-67a1b2c3-0123456789abcdef01234567';
const XRAY_HEADER = `Root=${TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1`;

test("GIVEN a fire inside an X-Ray trace WHEN the dispatcher handles it and an agent runs it THEN the trace id is on the dispatcher's line, the run record, the agent's lines and the handler's context and environment", async () => {
  await aws.provisioned();
  const dispatcherLines: Record<string, unknown>[] = [];
  const plane = controlPlane({
    clients: aws.clients,
    prefix: aws.prefix,
    workerCacheMs: 0,
    log: jsonLogger({ write: (line) => dispatcherLines.push(JSON.parse(line) as Record<string, unknown>) }),
    traceId: () => traceIdFromXrayHeader(XRAY_HEADER),
  });
  const agent = await agents.start({
    aws,
    workerId: 'trace-1',
    config: [
      'pool: trace',
      'heartbeatIntervalSeconds: 2',
      'leaseTtlSeconds: 20',
      'handlers:',
      '  print-trace:',
      `    module: ${TEST_HANDLERS}`,
      '    export: printTrace',
    ].join('\n'),
  });
  await agent.waitForLog(/agent started/, 60_000);
  await plane.jobService.define({ jobId: 'traced', handler: 'print-trace', target: { pool: 'trace' } });

  const dispatch = makeDispatcherHandler({ dispatcher: plane.dispatcher, log: plane.log });
  const fired = await dispatch({ jobId: 'traced', trigger: 'MANUAL' });
  assert.equal(fired.status, 'dispatched', JSON.stringify(fired));
  const [runId] = fired.status === 'dispatched' ? fired.runIds : [];
  assert.ok(runId);

  const dispatched = dispatcherLines.find((l) => l.runId === runId && /dispatched/.test(String(l.message)));
  assert.equal(dispatched?.traceId, TRACE_ID, `the dispatcher's line: ${JSON.stringify(dispatcherLines)}`);

  const run = (await waitFor(
    () => plane.runs.get(runId),
    (r) => r?.status === 'SUCCEEDED' || r?.status === 'FAILED',
    'the traced run to finish',
    { timeoutMs: 90_000 },
  )) as Run;
  assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
  assert.equal(run.traceId, TRACE_ID, 'the run record');
  assert.deepEqual(run.log, [`ctx.traceId=${TRACE_ID}`, `CLOVER_TRACE_ID=${TRACE_ID}`], 'the handler');

  const agentLines = agent.lines().filter((l) => (l as { runId?: string }).runId === runId);
  assert.ok(agentLines.length > 0, agent.text);
  for (const line of agentLines) {
    assert.equal(
      (line as { traceId?: string }).traceId,
      TRACE_ID,
      `the agent's line ${JSON.stringify(line)}`,
    );
  }
});
