/**
 * What one fire costs on the SQS path, end to end, on the emulator: the AWS requests the dispatcher
 * and the worker make, averaged over the fires, by operation and by side (the budget in
 * ARCHITECTURE.md is at most 6, heartbeats and empty polls aside: `requestsPerFire` leaves out the
 * warm dispatcher's worker-list reads (Query of profiles, Scan of leases), once a second, and a cold start's job read, which
 * `requestsPerFireWithAmortised` includes), and the latency of the dispatcher's path, of
 * fire-to-claim and of the completion (ack + outcome with the lock release), step by step; and the
 * bytes the dispatcher Lambda logs per fire (bench/fire-log-bytes.ts), which the costs bench prices.
 *
 *   npx tsx bench/requests-per-fire.ts [fires=200]
 */
import { SqsInbox } from '../core/adapters/sqs-inbox';
import { RequestCounter } from './aws-requests';
import { fireLogBytes } from './fire-log-bytes';
import { FireBreakdown } from './floor';
import { withBenchStack } from './harness';
import { percentile, round } from './stats';

export function requestsPerFire(fires = 200): Promise<Record<string, unknown>> {
  // A warm Lambda keeps its worker list for a second, and the jobs it read (each fire's write checks
  // the job is unchanged); the bench reuses one dispatcher like a warm container.
  return withBenchStack({ name: 'fire' }, async (stack) => {
    const { plane, clients, prefix, emulator, registerWorker } = stack;
    const breakdown = new FireBreakdown(stack);
    const { queueUrl } = await registerWorker({ workerId: 'bench-worker', handlers: ['bench.noop'] });
    const inbox = new SqsInbox(clients.sqs, queueUrl);
    await plane.jobService.define({ jobId: 'bench', handler: 'bench.noop' });
    const counter = new RequestCounter(clients, prefix);
    // Requests by side and by operation (with its table or queue), summed over the fires.
    const sides = { dispatcher: new Map<string, number>(), worker: new Map<string, number>() };
    const take = (side: Map<string, number>) => {
      for (const [label, n] of Object.entries(counter.snapshot()))
        side.set(label, (side.get(label) ?? 0) + n);
      counter.reset();
    };
    const dispatcherMs: number[] = [];
    const fireToClaimMs: number[] = [];
    const fireOf = (i: number) => ({
      jobId: 'bench',
      scheduledTime: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString().replace('.000', ''),
    });
    /** The worker's part of a fire: receive, claim, ack, finish; `claimed` when it holds the run. */
    const work = async (claimed: () => void = () => {}) => {
      const [message] = await inbox.receive({ maxMessages: 1, waitSeconds: 5 });
      if (!message?.ok) throw new Error('the worker did not receive the run');
      const run = await plane.execution.claim(message.envelope, 'bench-worker');
      claimed();
      await inbox.ack(message.receipt);
      await plane.execution.complete(run, { status: 'SUCCEEDED' });
    };
    counter.reset();
    for (let i = 0; i < fires; i += 1) {
      const start = performance.now();
      await plane.dispatcher.fire(fireOf(i));
      dispatcherMs.push(performance.now() - start);
      take(sides.dispatcher);
      let claimed = start;
      await work(() => {
        claimed = performance.now();
      });
      fireToClaimMs.push(claimed - start);
      breakdown.record('fire-to-claim', start, claimed);
      breakdown.record('claim-to-done', claimed, performance.now());
      take(sides.worker);
    }
    // The same fires' log, through the dispatcher Lambda's own handler (after the counted ones).
    const logBytes = await fireLogBytes(
      stack,
      20,
      (i) => fireOf(fires + i),
      () => work(),
    );
    const perFire = (counts: ReadonlyMap<string, number>) =>
      Object.fromEntries([...counts].sort().map(([label, n]) => [label, Number((n / fires).toFixed(2))]));
    const sum = (counts: Readonly<Record<string, number>>) =>
      Number(
        Object.values(counts)
          .reduce((a, b) => a + b, 0)
          .toFixed(2),
      );
    const dispatcher = perFire(sides.dispatcher);
    const worker = perFire(sides.worker);
    const all = new Map(sides.dispatcher);
    for (const [label, n] of sides.worker) all.set(label, (all.get(label) ?? 0) + n);
    const byOperation = perFire(all);
    // Shared by many fires, like heartbeats: the worker-list reads (the pool's profiles and the
    // leases, at most once a second per warm dispatcher) and the job read (a cold start, or the first fire after the job changed).
    const amortised = sum(
      Object.fromEntries(
        Object.entries(dispatcher).filter(([label]) =>
          /^DynamoDB\.(Query\(workers|Scan\(leases|GetItem\(jobs)/.test(label),
        ),
      ),
    );
    return {
      fires,
      emulator: emulator.kind,
      requestsPerFire: Number((sum(byOperation) - amortised).toFixed(2)),
      requestsPerFireWithAmortised: sum(byOperation),
      byOperation,
      bySide: { dispatcher, worker },
      dispatcherRequestsPerFire: sum(dispatcher),
      dispatcherLogBytesPerFire: logBytes,
      dispatcherMs: { p50: round(percentile(dispatcherMs, 50)), p99: round(percentile(dispatcherMs, 99)) },
      fireToClaimMs: { p50: round(percentile(fireToClaimMs, 50)), p99: round(percentile(fireToClaimMs, 99)) },
      ...(await breakdown.summary()),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await requestsPerFire(Number(process.argv[2] ?? 200)), null, 2));
}
