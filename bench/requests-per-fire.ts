/**
 * What one fire costs on the SQS path, end to end, on the emulator: the AWS requests the dispatcher
 * and the worker make (the budget in ARCHITECTURE.md is at most 6, heartbeats and empty polls
 * aside), and the latency of the dispatcher's path and of fire-to-claim.
 *
 *   npx tsx bench/requests-per-fire.ts [fires=200]
 */
import { SqsInbox } from '../core/adapters/sqs-inbox';
import { RequestCounter } from './aws-requests';
import { FireBreakdown } from './floor';
import { withBenchStack } from './harness';
import { percentile, round } from './stats';

export function requestsPerFire(fires = 200): Promise<Record<string, unknown>> {
  // A warm Lambda keeps its worker list for a second; the bench reuses one dispatcher like a warm container.
  return withBenchStack({ name: 'fire' }, async (stack) => {
    const { plane, clients, prefix, emulator, registerWorker } = stack;
    const breakdown = new FireBreakdown(stack);
    const { queueUrl } = await registerWorker({ workerId: 'bench-worker', handlers: ['bench.noop'] });
    const inbox = new SqsInbox(clients.sqs, queueUrl);
    await plane.jobService.define({ jobId: 'bench', handler: 'bench.noop' });
    const counter = new RequestCounter(clients, prefix);
    const dispatcherMs: number[] = [];
    const fireToClaimMs: number[] = [];
    let dispatcherRequests = 0;
    for (let i = 0; i < fires; i += 1) {
      const scheduledTime = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString().replace('.000', '');
      const start = performance.now();
      await plane.dispatcher.fire({ jobId: 'bench', scheduledTime });
      dispatcherMs.push(performance.now() - start);
      dispatcherRequests += counter.total();
      const [message] = await inbox.receive({ maxMessages: 1, waitSeconds: 5 });
      if (!message?.ok) throw new Error('the worker did not receive the run');
      const run = await plane.execution.claim(message.envelope, 'bench-worker');
      const claimed = performance.now();
      fireToClaimMs.push(claimed - start);
      breakdown.record('fire-to-claim', start, claimed);
      await inbox.ack(message.receipt);
      await plane.execution.complete(run, { status: 'SUCCEEDED' });
      if (i < fires - 1) counter.reset();
    }
    const perFire = counter.snapshot();
    return {
      fires,
      emulator: emulator.kind,
      requestsPerFire: Object.values(perFire).reduce((a, b) => a + b, 0),
      byOperation: perFire,
      dispatcherRequestsPerFire: Number((dispatcherRequests / fires).toFixed(2)),
      dispatcherMs: { p50: round(percentile(dispatcherMs, 50)), p99: round(percentile(dispatcherMs, 99)) },
      fireToClaimMs: { p50: round(percentile(fireToClaimMs, 50)), p99: round(percentile(fireToClaimMs, 99)) },
      ...(await breakdown.summary()),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await requestsPerFire(Number(process.argv[2] ?? 200)), null, 2));
}
