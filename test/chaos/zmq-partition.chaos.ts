/**
 * Chaos: a ZeroMQ partition while runs are in flight. Two real agents take ZMQ jobs directly over
 * ZeroMQ (CURVE, acknowledged); each is reached through its own TCP proxy (its lease advertises the
 * proxy, as a host behind NAT would), so the test can partition the direct path without touching AWS:
 * a partition holds every byte, both ways, until it heals, and then delivers what was held — late, as
 * TCP does — so envelopes and acknowledgements arrive after the dispatcher has given up and moved on.
 * In each cycle a burst of fires is sent; a seeded moment into it, one agent's path or both are
 * partitioned; the dispatcher falls back to the next candidate, then to SQS (raising the fence each
 * time), while late frames still reach the agents; then the partition heals. Every fire must run
 * exactly once — over ZeroMQ or SQS, never both — and end SUCCEEDED.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import * as zmq from 'zeromq';
import type { FireOutcome } from '../../core/dispatch';
import { useEmulator } from '../harness';
import { type AgentProcess, useAgents } from '../harness/agent-process';
import { monitorLoop } from '../harness/monitor-loop';
import { OutageProxy } from '../harness/outage-proxy';
import { chaosHandlerConfig, chaosJob, chaosStage, report, settled, tally } from './chaos';

const aws = useEmulator();
const agents = useAgents();
const NAME = 'zmq-partition';
const CYCLES = 4;
const proxies: OutageProxy[] = [];

test('ZeroMQ partitioned while runs are in flight, in cycles: each fire falls back or recovers and runs exactly once', {
  timeout: 900_000,
}, async (t) => {
  t.after(() => Promise.all(proxies.map((p) => p.close())));
  const dispatcherKeys = zmq.curveKeyPair();
  // A 3 s acknowledgement deadline: long enough for a claim on a loaded emulator, short enough that
  // a partition makes the dispatcher move on while the frame is still held in the path.
  const { chaos, marks, stack, plane } = await chaosStage(aws, NAME, {
    workerCacheMs: 0,
    zmq: { keys: dispatcherKeys, deadlineMs: 3000 },
  });
  const config = (priority: number) =>
    [
      'pool: zp',
      'capacity: 8',
      `priority: ${priority}`,
      'heartbeatIntervalSeconds: 2',
      'leaseTtlSeconds: 60',
      'zmq:',
      '  bind: tcp://127.0.0.1:*',
      `  allowedDispatcherKeys: [${JSON.stringify(dispatcherKeys.publicKey)}]`,
      chaosHandlerConfig(),
    ].join('\n');
  const fleet: AgentProcess[] = await Promise.all(
    [
      ['zp-1', 10],
      ['zp-2', 20],
    ].map(([workerId, priority]) =>
      agents.start({
        aws,
        workerId: String(workerId),
        config: config(Number(priority)),
        env: { ...marks.env, CLOVER_AGENT_ZMQ_SECRET_KEY: zmq.curveKeyPair().secretKey },
      }),
    ),
  );
  await Promise.all(fleet.map((agent) => agent.waitForLog(/agent started/)));
  // Each agent behind its own proxy: the lease's ZeroMQ address now names the proxy.
  const paths = new Map<string, OutageProxy>();
  for (const agent of fleet) {
    const lease = await plane.workers.get(agent.workerId);
    const address = lease?.endpoints.zmqAddress;
    assert.ok(address, `${agent.workerId} advertises ZeroMQ`);
    const proxy = await OutageProxy.start(address.replace('tcp://', 'http://'));
    proxies.push(proxy);
    paths.set(agent.workerId, proxy);
    await aws.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: stack.tables.workers,
        Key: { workerId: { S: agent.workerId } },
        UpdateExpression: 'SET #e.#z = :a',
        ExpressionAttributeNames: { '#e': 'endpoints', '#z': 'zmqAddress' },
        ExpressionAttributeValues: { ':a': { S: proxy.endpoint.replace('http://', 'tcp://') } },
      }),
    );
  }
  const loop = monitorLoop(plane, 1000);
  await plane.jobService.define(
    chaosJob('zp', 'zp', {
      payload: { sleepMs: 200 },
      delivery: 'ZMQ',
      routing: 'FAILOVER', // zp-1, then zp-2, then SQS to zp-1
      retry: { maxAttempts: 5, backoffSeconds: 1, maxBackoffSeconds: 4 },
    }),
  );

  const runIds: string[] = [];
  for (let cycle = 1; cycle <= CYCLES; cycle += 1) {
    // The first candidate's path most often: a partition of zp-2 alone only matters once zp-1's is cut.
    const cut = chaos.pick([['zp-1'], ['zp-1'], ['zp-2'], ['zp-1', 'zp-2']]);
    const burst = chaos.int(4, 8);
    const firing = Array.from({ length: burst }, async (_, i) => {
      await sleep(i * chaos.int(20, 150)); // a burst, spread out so the partition lands mid-burst
      return plane.dispatcher.fire({ jobId: 'zp', trigger: 'MANUAL' });
    });
    await sleep(chaos.int(0, 400)); // the partition's moment inside the burst: the chaos, not a wait
    for (const workerId of cut) paths.get(workerId)?.partition();
    const fired: FireOutcome[] = await Promise.all(firing);
    // Healed once the burst has been dispatched one way or another: held frames arrive late now.
    for (const workerId of cut) paths.get(workerId)?.restore();
    const ids = fired.map((outcome) => {
      if (outcome.kind === 'dispatched') return outcome.runs[0]!.runId;
      if (outcome.kind === 'no_worker') return outcome.run.runId;
      throw new Error(JSON.stringify(outcome));
    });
    runIds.push(...ids);
    const records = await settled(plane, ids, 120_000);
    const moved = (over: string) =>
      records.filter((run) => typeof run !== 'string' && run.history.some((h) => h.note?.startsWith(over)))
        .length;
    console.log(
      `chaos ${NAME}: cycle ${cycle}: ${burst} fires, partitioned ${cut.join(' and ')} mid-burst; ${moved('delivery moved to')} moved to another path (${moved('delivery moved to zp-1 over SQS')} to SQS)`,
    );
  }

  const records = await settled(plane, runIds, 60_000);
  await loop.stop();
  const counts = tally(runIds.length, records, await marks.read());
  const intake = new Map<string, number>();
  for (const line of fleet.flatMap((agent) => agent.lines())) {
    const message = String(line.message);
    if (message.startsWith('zmq intake:')) intake.set(message, (intake.get(message) ?? 0) + 1);
  }
  console.log(`chaos ${NAME}: the agents' ZeroMQ intake: ${JSON.stringify(Object.fromEntries(intake))}`);
  for (const agent of fleet) agent.signal('SIGTERM');
  for (const agent of fleet) await agent.waitForExit(90_000);
  await plane.close();
  report(NAME, counts);
});
