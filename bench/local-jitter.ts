/**
 * LOCAL-mode fire jitter: how late, after its scheduled instant, a LOCAL fire's handler starts.
 *
 *   npx tsx bench/local-jitter.ts [--agents 3] [--jobs 1] [--seconds 60] [--expression '0/2 * * * * ?'] [--lead 300]
 *
 * On a bench stack of its own (bench/harness.ts: emulator, fresh provisioning), defines `--jobs` LOCAL jobs on `--expression` (default: the issue's
 * scenario, one job every 2 seconds, three agents, 60 s),
 * and runs `--agents` LocalFires in this process — each with its own control-plane wiring and SDK
 * clients, as separate agent processes have — for `--seconds`. Each fire is raced by every agent through
 * Dispatcher.fireLocal; the winner claims the run and "starts" the handler (records the time) and
 * completes it. Fires are decided `--lead` ms before their instants (the agent's default,
 * DEFAULT_AGENT_LEAD_MS; 0 decides at the instant), and the winner starts the handler at the instant,
 * as the agent does: the write and the claim are then off the path unless they take longer than the
 * lead.
 *
 * Reported, in ms after the scheduled instant (p50 / p95 / p99 / max over every fire):
 * - timer:   when the winning agent's timer ran (negative: ahead of the instant by the lead);
 * - decided: when the winner's conditional write answered (+ one GetItem and one PutItem);
 * - start:   when the handler started (+ the claim, one UpdateItem) — the jitter the issue names.
 * Aim: start p99 under 50 ms. On an emulator the numbers are mostly the emulator's round trips
 * (moto_server: ~15 ms a request, and a failed transaction deep-copies the tables it touched, so the
 * losers of every race slow it down as the runs table grows); in AWS, DynamoDB answers in
 * single-digit ms from inside the region. All agents share this process, so `--jobs` > 1 also
 * measures their contention for one event loop, which separate agent processes do not have.
 *
 * Also: the winner's path from its timer to its claim (the decision, made ahead of the instant) as steps (its own AWS calls, timed by an SDK
 * middleware) against the emulator floor of those calls (bench/floor.ts). The last line of output is
 * every figure as JSON (bench/run.ts reads it).
 */

import { parseArgs } from 'node:util';
import { controlPlane } from '../core/adapters/control-plane';
import type { LocalFireEvent } from '../worker-agent/local-decisions';
import { LocalFires } from '../worker-agent/local-fires';
import { DEFAULT_AGENT_LEAD_MS } from '../worker-agent/local-mode';
import { FireBreakdown } from './floor';
import { withBenchStack } from './harness';
import { percentile } from './stats';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '60' },
    expression: { type: 'string', default: '*/2 * * * * ?' },
    lead: { type: 'string', default: String(DEFAULT_AGENT_LEAD_MS) },
  },
});
const agentCount = Number(values.agents);
const jobCount = Number(values.jobs);
const seconds = Number(values.seconds);

function stats(samples: readonly number[]): string {
  const at = (p: number) => percentile(samples, p);
  return `p50 ${at(50)}  p95 ${at(95)}  p99 ${at(99)}  max ${Math.max(...samples)}  (n=${samples.length})`;
}

/** Epoch ms (Date.now) on the performance.now() clock the call timelines use, read side by side once. */
const clockOffset = Date.now() - performance.now();
const perf = (epochMs: number) => epochMs - clockOffset;

function main(): Promise<void> {
  return withBenchStack({ name: 'jitter' }, async (stack) => {
    const { emulator, plane: admin } = stack;
    const log = stack.log;
    const jobIds = Array.from({ length: jobCount }, (_, i) => `jitter-${i + 1}`);
    for (const jobId of jobIds) {
      await admin.jobService.define({
        jobId,
        handler: 'bench',
        mode: 'LOCAL',
        schedule: { expression: values.expression },
        concurrency: { policy: 'ALLOW' },
      });
    }

    const wins: LocalFireEvent[] = [];
    const starts: number[] = [];
    let errors = 0;
    const breakdown = new FireBreakdown(stack);
    const fleet = Array.from({ length: agentCount }, (_, i) => {
      const workerId = `bench-${i + 1}`;
      // Clients of its own, as a separate agent process has: its calls are told from the others'.
      const own = stack.ownClients();
      const plane = controlPlane({ clients: own.clients, prefix: stack.prefix, log });
      return new LocalFires({
        workerId,
        pool: 'default',
        jobs: plane.jobs,
        dispatcher: plane.dispatcher,
        hasHandler: (name) => name === 'bench',
        log,
        onFire: (event) => {
          if (event.outcome === 'dispatched') wins.push(event);
          if (event.outcome === 'error') errors += 1;
        },
        leadMs: Number(values.lead),
        execute: async ({ envelope, fire, startAt }) => {
          const run = await plane.execution.claim(envelope, workerId);
          // From the winner's timer to its claim, on the winner's own calls: the decision's path.
          breakdown.record('local', perf(fire.firedAt), performance.now(), own.calls);
          // As the agent does (Agent.runToEnd): a fire decided ahead starts its handler at the instant.
          const early = startAt - Date.now();
          if (early > 0) await new Promise((resolve) => setTimeout(resolve, early));
          starts.push(Date.now() - fire.scheduledAt); // the handler starts here
          await plane.execution.complete(run, { status: 'SUCCEEDED' });
        },
      });
    });
    console.log(
      `emulator ${emulator.kind}; ${agentCount} agents, ${jobCount} jobs on "${values.expression}", ${seconds} s`,
    );
    await Promise.all(fleet.map((agent) => agent.start()));
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    await Promise.all(fleet.map((agent) => agent.stop()));
    await Promise.all(fleet.map((agent) => agent.idle()));

    const runs = (await Promise.all(jobIds.map((id) => admin.runs.listByJob(id, { limit: 1000 })))).flat();
    const timer = wins.map((w) => w.firedAt - w.scheduledAt);
    const decided = wins.map((w) => w.decidedAt - w.scheduledAt);
    console.log(`fires won: ${wins.length}; runs recorded: ${runs.length}; failed writes: ${errors}`);
    console.log(`timer    ${stats(timer)}`);
    console.log(`decided  ${stats(decided)}`);
    console.log(`start    ${stats(starts)}`);
    // The last line: the figures as JSON, for bench/run.ts (figuresFromChild).
    const late = (samples: readonly number[]) => ({
      p50: percentile(samples, 50),
      p95: percentile(samples, 95),
      p99: percentile(samples, 99),
      max: Math.max(...samples),
    });
    const { fireToStartBreakdown, floorMs } = await breakdown.summary();
    console.log(
      JSON.stringify({
        emulator: emulator.kind,
        agents: agentCount,
        jobs: jobCount,
        expression: values.expression,
        seconds,
        firesWon: wins.length,
        runsRecorded: runs.length,
        failedWrites: errors,
        leadMs: Number(values.lead),
        lateMs: { timer: late(timer), decided: late(decided), start: late(starts) },
        timerToClaimBreakdown: fireToStartBreakdown,
        floorMs,
      }),
    );
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
