/**
 * One trace per fire (#28; docs/architecture.md, "Following a fire"): a fire made by the dispatcher's
 * Lambda handler inside an X-Ray trace — Lambda's `_X_AMZN_TRACE_ID`, as functions/telemetry.ts reads
 * it — carries that trace id to the dispatcher's log line, the run record, the envelope, a real agent
 * process's log lines for the run and the handler's context and environment. A run triggered through
 * the management API with a W3C `traceparent` carries the caller's trace id the same way, even inside
 * a traced invocation: the caller's trace continues into Clover's.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { CloverApiClient } from '../../core/api/client';
import { jsonLogger } from '../../core/log';
import { type Run, traceIdFromXrayHeader } from '../../core/model';
import { makeDispatcherHandler } from '../../functions/dispatcher/handler';
import { type LocalApi, startLocalApi } from '../../functions/local/api-server';
import { emfMetrics } from '../../functions/metrics';
import { useEmulator } from '../harness';
import { type AgentProcess, TEST_HANDLERS, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

const TRACE_ID = '1-67a1b2c3-0123456789abcdef01234567';
const XRAY_HEADER = `Root=${TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1`;

interface Setup {
  readonly plane: ControlPlane;
  readonly agent: AgentProcess;
  readonly dispatcherLines: Record<string, unknown>[];
}

let server: LocalApi | undefined;
let setup: Promise<Setup> | undefined;
after(async () => {
  await server?.close();
  await setup?.then(
    ({ plane }) => plane.close(),
    () => {}, // the test that started it has failed already
  );
});

/** The control plane inside the X-Ray trace and one agent serving the `traced` job, shared by the tests. */
function ready(): Promise<Setup> {
  setup ??= (async () => {
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
    return { plane, agent, dispatcherLines };
  })();
  return setup;
}

/** Waits for the run to end and checks that its record, the handler and the agent's lines carry `traceId`. */
async function assertTraced(plane: ControlPlane, agent: AgentProcess, runId: string, traceId: string) {
  const run = (await waitFor(
    () => plane.runs.get(runId),
    (r) => r?.status === 'SUCCEEDED' || r?.status === 'FAILED',
    'the traced run to finish',
    { timeoutMs: 90_000 },
  )) as Run;
  assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
  assert.equal(run.traceId, traceId, 'the run record');
  assert.deepEqual(run.log, [`ctx.traceId=${traceId}`, `CLOVER_TRACE_ID=${traceId}`], 'the handler');

  const agentLines = agent.lines().filter((l) => (l as { runId?: string }).runId === runId);
  assert.ok(agentLines.length > 0, agent.text);
  for (const line of agentLines) {
    assert.equal((line as { traceId?: string }).traceId, traceId, `the agent's line ${JSON.stringify(line)}`);
  }
}

test("GIVEN a fire inside an X-Ray trace WHEN the dispatcher handles it and an agent runs it THEN the trace id is on the dispatcher's line, the run record, the agent's lines and the handler's context and environment", async () => {
  const { plane, agent, dispatcherLines } = await ready();
  // The dispatcher's one line for a fire is its metric line (functions/dispatcher/handler.ts), written
  // where its log lines go, as stdout carries both in the Lambda.
  const dispatch = makeDispatcherHandler({
    dispatcher: plane.dispatcher,
    log: plane.log,
    metrics: emfMetrics({
      stage: aws.prefix,
      fn: 'dispatcher',
      write: (line) => dispatcherLines.push(JSON.parse(line) as Record<string, unknown>),
    }),
  });
  const fired = await dispatch({ jobId: 'traced', trigger: 'MANUAL' });
  assert.equal(fired.status, 'dispatched', JSON.stringify(fired));
  const [runId] = fired.status === 'dispatched' ? fired.runIds : [];
  assert.ok(runId);

  const fireLine = dispatcherLines.find((l) => l.runId === runId && l.Outcome === 'dispatched');
  assert.equal(fireLine?.traceId, TRACE_ID, `the dispatcher's line: ${JSON.stringify(dispatcherLines)}`);
  await assertTraced(plane, agent, runId, TRACE_ID);
});

test("GIVEN a caller's W3C traceparent WHEN it triggers the job through the management API THEN the run, the agent's lines and the handler carry the caller's trace id, not the invocation's", async () => {
  const { plane, agent } = await ready();
  server = await startLocalApi({
    plane,
    log: plane.log,
    port: 0,
    stateDir: await mkdtemp(join(tmpdir(), 'clover-trace-api-')),
  });
  const { token } = await server.auth.issue('tracer', 'operator');
  const api = new CloverApiClient({ baseUrl: server.url, token });
  const CALLER = '1-0af76519-16cd43dd8448eb211c80319c';
  const fired = await api.call('triggerJob', {
    params: { jobId: 'traced' },
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    body: {},
  });
  assert.equal(fired.traceId, CALLER, JSON.stringify(fired));
  await assertTraced(plane, agent, fired.runId, CALLER);
});
