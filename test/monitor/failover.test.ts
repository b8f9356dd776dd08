/**
 * Issue 6's must-shows with real `clover-agent` processes (invariant 4): the monitor sweeps every
 * second, as the local runtime's loop does, and the notifier Lambda handler mails what the alerts
 * queue holds; mail is read back from the emulator's SES.
 *
 * - kill -9 of the agent running a recoverable job: once its lease (6 s TTL, 1 s heartbeats) has
 *   expired, a sweep re-dispatches the run, it completes on the other agent as attempt 2, and exactly
 *   one email tells the job's contact — "exactly one" counted after two further sweeps and alert
 *   deliveries completed, not after a pause.
 *
 * Leases have margin for a loaded machine: the victim's is short (so the test waits seconds), every
 * other agent's is 30 s, so a slow renewal never makes a survivor lose its lease and exit.
 * - the only capable agent leaves (SIGTERM: drain, lease released, GONE): the next sweep raises
 *   job_unavailable and one email says so.
 *
 * How long failover takes is a benchmark figure (bench/failover.ts), reported here as a diagnostic only.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { controlPlane } from '../../core/adapters/control-plane';
import { SesMailer } from '../../core/adapters/ses-mailer';
import type { Run } from '../../core/model';
import { Monitor, type SweepReport } from '../../core/monitor';
import { Notifier } from '../../core/notify';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { makeNotifierHandler } from '../../functions/notifier/handler';
import { useEmulator } from '../harness';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { eventSourcePass } from '../harness/sqs-event-source';

const aws = useEmulator();
const agents = useAgents();
const FROM = 'clover-failover@example.com';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The agent to be killed: a short lease, renewed every second (5 s of margin for a slow renewal). */
const victimConfig = (pool: string) =>
  `pool: ${pool}\nheartbeatIntervalSeconds: 1\nleaseTtlSeconds: 6\n${testHandlersConfig()}`;
/** Agents that must keep their lease on a loaded machine. */
const agentConfig = (pool: string) =>
  `pool: ${pool}\nheartbeatIntervalSeconds: 2\nleaseTtlSeconds: 30\n${testHandlersConfig()}`;

async function world() {
  const stack = await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const monitor = new Monitor({ ...plane, deadLetters: plane.fireDeadLetters });
  // SES refuses an unverified sender, on the emulator as in AWS.
  await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: FROM }));
  const notify = makeNotifierHandler({
    notifier: new Notifier({
      alerts: plane.alertStore,
      queue: plane.alertQueue,
      contacts: plane.contacts,
      jobs: plane.jobs,
      mailer: new SesMailer({ client: aws.clients.ses }),
      clock: plane.clock,
      log: plane.log,
      config: { from: FROM, consoleUrl: 'https://console.example.com' },
    }),
    log: plane.log,
  });

  /** What the SQS event source does for the notifier Lambda: receive, invoke, delete what succeeded. */
  async function deliverAlerts(): Promise<void> {
    await eventSourcePass(aws.clients.sqs, stack.queues.alerts, notify);
  }

  /** The monitor loop of the local runtime (functions/local/runtime.ts), every `ms`, never overlapping. */
  function monitorLoop(ms: number) {
    const reports: SweepReport[] = [];
    let active = true;
    const done = (async () => {
      while (active) {
        reports.push(await monitor.sweep());
        await deliverAlerts();
        if (active) await sleep(ms);
      }
    })();
    const stop = async () => {
      active = false;
      await done;
    };
    after(stop);
    return { reports, stop };
  }

  async function contact() {
    const email = `${uniqueId('owner')}@example.com`;
    const contactId = uniqueId('owner');
    await plane.contacts.create({ contactId, name: 'Owner', email });
    return { email, contactId };
  }

  const mailsTo = async (email: string) => (await aws.sentEmails()).filter((m) => m.to.includes(email));

  return { plane, monitor, deliverAlerts, monitorLoop, contact, mailsTo };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('failover with real agent processes', () => {
  test('kill -9 of the agent running a recoverable job: re-dispatched once the lease expires, completed on the other agent as attempt 2, one email', async (t) => {
    const w = await world();
    const owner = await w.contact();
    const pool = uniqueId('failover');
    // The victim starts alone, so attempt 1 is its; the survivor joins before the kill.
    const victim = await agents.start({ aws, workerId: uniqueId('agent'), config: victimConfig(pool) });
    await victim.waitForLog(/agent started/);
    const jobId = uniqueId('job');
    await w.plane.jobService.define({
      jobId,
      handler: 'work',
      // Attempt 1 would take ten minutes (it is killed mid-run); attempt 2 takes 100 ms.
      payload: { attemptSleepMs: [600_000, 100] },
      timeoutSeconds: 1200,
      target: { pool },
      recoverOnWorkerLoss: true,
      contacts: [owner.contactId],
    });
    const loop = w.monitorLoop(1000);

    const fired = await w.plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
    assert.equal(fired.kind, 'dispatched');
    const runId = fired.kind === 'dispatched' ? fired.runs[0]!.runId : '';
    const get = async () => (await w.plane.runs.get(runId)) as Run;
    const running = await waitFor('attempt 1 RUNNING', 60_000, async () => {
      const run = await get();
      return run.status === 'RUNNING' ? run : undefined;
    });
    assert.equal(running.workerId, victim.workerId);
    const survivor = await agents.start({ aws, workerId: uniqueId('agent'), config: agentConfig(pool) });
    await survivor.waitForLog(/agent started/);
    assert.equal((await get()).status, 'RUNNING', 'attempt 1 still runs on the victim when it is killed');

    const killedAt = Date.now();
    await victim.kill();
    assert.equal((await victim.exited).signal, 'SIGKILL');

    const done = await waitFor('the run to complete on the other agent', 90_000, async () => {
      const run = await get();
      return run.status === 'SUCCEEDED' || run.status === 'FAILED' || run.status === 'LOST' ? run : undefined;
    });
    assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.history));
    assert.equal(done.attempt, 2);
    assert.equal(done.workerId, survivor.workerId);
    assert.deepEqual(done.result, { by: survivor.workerId, attempt: 2 });
    assert.deepEqual(
      done.history.map((h) => [h.status, h.attempt]),
      [
        ['PENDING', 1],
        ['DISPATCHED', 1],
        ['RUNNING', 1],
        ['DISPATCHED', 2],
        ['RUNNING', 2],
        ['SUCCEEDED', 2],
      ],
    );
    const redispatchedAt = done.history[3]!.at;
    const lease = await w.plane.workers.get(victim.workerId);
    assert.equal(lease?.status, 'GONE');
    assert.ok(redispatchedAt >= (lease?.leaseExpiresAt ?? 0), 're-dispatched only after the lease expired');
    // The sweep that re-dispatched the run may still be on its later steps while attempt 2 finishes.
    const recovered = () => loop.reports.reduce((n, r) => n + r.runsRecovered, 0);
    await waitFor('the recovering sweep to report', 60_000, async () => (recovered() > 0 ? true : undefined));
    assert.equal(recovered(), 1, 'one sweep recovered the run, once');

    // The lost alert is mailed by the loop; two more complete rounds (sweep, then alert delivery)
    // show that nothing else follows.
    const mails = await waitFor('the lost email', 60_000, async () => {
      const sent = await w.mailsTo(owner.email);
      return sent.length > 0 ? sent : undefined;
    });
    const roundsSeen = loop.reports.length;
    await waitFor('two more monitor rounds', 60_000, async () =>
      loop.reports.length >= roundsSeen + 2 ? true : undefined,
    );
    await loop.stop();
    await w.deliverAlerts();
    assert.deepEqual(
      (await w.mailsTo(owner.email)).map((m) => m.subject),
      mails.map((m) => m.subject),
    );
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject, /lost its worker/);
    assert.match(mails[0]!.body, new RegExp(`re-dispatched as attempt 2 to ${survivor.workerId}`));
    assert.equal(mails[0]!.source, FROM);

    t.diagnostic(
      `kill -9 → re-dispatch ${((redispatchedAt - killedAt) / 1000).toFixed(1)} s, → completion ${(((done.finishedAt ?? 0) - killedAt) / 1000).toFixed(1)} s (lease TTL 6 s, sweep every 1 s)`,
    );
    assert.ok(survivor.running, survivor.text);
  });

  test('a job whose only capable agent leaves (SIGTERM: drain, GONE): one job unavailable email within one sweep', async () => {
    const w = await world();
    const owner = await w.contact();
    const pool = uniqueId('leaving');
    const agent = await agents.start({ aws, workerId: uniqueId('agent'), config: agentConfig(pool) });
    await agent.waitForLog(/agent started/);
    const jobId = uniqueId('job');
    await w.plane.jobService.define({
      jobId,
      handler: 'work',
      target: { pool },
      contacts: [owner.contactId],
    });
    assert.equal((await w.monitor.sweep()).jobsUnavailable, 0);

    agent.signal('SIGTERM');
    assert.equal((await agent.waitForExit()).code, 0, agent.text);
    assert.equal((await w.plane.workers.get(agent.workerId))?.status, 'GONE');

    const report = await w.monitor.sweep();
    assert.equal(report.jobsUnavailable, 1);
    await w.deliverAlerts();
    assert.equal((await w.monitor.sweep()).jobsUnavailable, 0, 'one alert per outage, not one per sweep');
    await w.deliverAlerts();
    const mails = await w.mailsTo(owner.email);
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject, /unavailable/);
    assert.match(mails[0]!.body, /no live worker can run handler work/);
  });
});
