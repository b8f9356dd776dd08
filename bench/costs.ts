/**
 * What Clover costs on AWS, from request counts measured here and the dated price table
 * bench/aws-prices.json (the one source; docs/aws-prices.md shows it, docs/deploy.md cites both):
 *
 * - per million fires on the SQS path: the requests per fire by operation that `requests-per-fire`
 *   measured (read from bench/results/latest.json, so run it first; its date is reported), turned
 *   into DynamoDB request units by the table's indexes (infra/resources.ts), SQS requests, the
 *   Scheduler invocation and the dispatcher Lambda;
 * - per month at idle: the requests one idle agent makes (heartbeats, long polls, job discovery),
 *   and those a quiet stage's monitor and planner passes make in a simulated hour (bench/idle-hour.ts:
 *   the functions' own handlers on their schedules), counted on the emulator and scaled to a 30-day
 *   month, plus what the synthesized template bills whatever happens (bench/stage-inventory.ts: the
 *   monitor's and the planner's schedules, the Lambdas' memory, logs, alarms by the metrics they
 *   read, custom metrics, dashboard, secret, NAT and public IPv4). docs/deploy.md's "What it costs"
 *   is `costMarkdown` of these figures; test/monitor/idle-hour.test.ts holds a quiet hour to them.
 *
 * Priced by bench/cost-model.ts (the price table, the assumptions, the unit model and the arithmetic).
 */
import { RequestCounter } from './aws-requests';
import { BEFORE_IDLE_WORK, COST_ASSUMPTIONS, loadPrices, stageCosts } from './cost-model';
import type { FireLogBytes } from './fire-log-bytes';
import { withBenchStack } from './harness';
import { idleHour, quietStage } from './idle-hour';
import type { Figures } from './results';
import { MINUTES_PER_MONTH, stageInventory, stageTemplate } from './stage-inventory';

const usd = (n: number) => `$${n.toFixed(2)}`;
const count = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

/**
 * docs/deploy.md's cost tables, rendered from `stageCosts` of the documented stage (and of the same
 * stage with `-c vpc=new`): the docs show these figures, `bench/costs.test.ts` keeps them equal.
 */
export function costMarkdown(
  priced: ReturnType<typeof stageCosts>,
  variants: { readonly withVpc: ReturnType<typeof stageCosts> },
): string {
  const { withVpc } = variants;
  const { inventory: inv, idle } = priced;
  const m = inv.monitor;
  const p = inv.planner;
  const a = COST_ASSUMPTIONS;
  const how: Record<string, string> = {
    'monitor Lambda duration': `${count(m.invocationsPerMonth)} invocations × ${m.secondsPerInvocation} s (one sweep) at ${m.gb} GB`,
    'monitor Lambda requests': `${count(m.invocationsPerMonth)} invocations`,
    'monitor DynamoDB reads': `${count(m.sweepsPerMonth)} sweeps × ${idle.readUnits.perSweep} read units (counted over a simulated idle hour)`,
    'monitor DynamoDB writes': 'none at idle',
    'monitor SQS requests': `${count(m.sweepsPerMonth)} sweeps (fires-dlq receive)`,
    'planner Scheduler invocations': `${count(p.invocationsPerMonth)} passes of the \`_clover-planner\` schedule`,
    'planner Lambda requests': `${count(p.invocationsPerMonth)} dispatcher invocations`,
    'planner Lambda duration': `${count(p.invocationsPerMonth)} passes × ${a.plannerPassMs} ms (estimate) at ${inv.dispatcherGb} GB`,
    'planner DynamoDB reads': `${count(p.invocationsPerMonth)} passes × ${idle.readUnits.perPlannerPass} read units: the precise mark, and the jobs and planned runs when a pass is not quiet (same hour)`,
    'planner logs': "Lambda's lines per invocation (estimate)",
    'monitor logs': `Lambda's lines per invocation${m.bytesPerSweep > 0 ? `, a ${m.bytesPerSweep}-byte EMF line per sweep` : ' (an idle sweep writes no metric line)'}`,
    'custom metrics': `${inv.idleCustomMetrics} published at idle (each only when not zero)`,
    'notifier queue pollers': `${inv.sqsEventSources} SQS event source × ${a.sqsEventSourcePollers} pollers × a ${a.sqsEventSourcePollSeconds} s long poll (estimate)`,
    alarms: `${inv.alarms} alarms reading ${inv.alarmMetrics} metrics`,
    dashboard: `${inv.dashboards} (free if the account has fewer than 3)`,
    secret: `${inv.secrets} (the dispatcher's CURVE keys)`,
  };
  const rows = (dollars: Record<string, number>, explain: Record<string, string>) =>
    Object.entries(dollars)
      .filter(([, v]) => v > 0)
      .map(([item, v]) => `| ${item} | ${explain[item] ?? ''} | ${usd(v)} |`);
  const vpcExtra = withVpc.idle.extras.total - idle.extras.total;
  const fires = priced.perMillionFires;
  const before = BEFORE_IDLE_WORK;
  const lines = [
    '**A stage at idle**, compute and data (no fires, per 30-day month):',
    '',
    '| item | how | per month |',
    '| --- | --- | --- |',
    ...rows(idle.stack.dollars, how),
    `| **total** | | **${usd(idle.stack.total)}** (was ${usd(before.idleStageComputeAndData)}) |`,
    '',
    '**Optional extras** at idle (what the stage adds besides; each can be left out):',
    '',
    '| item | how | per month |',
    '| --- | --- | --- |',
    ...rows(idle.extras.dollars, how),
    `| **total** | | **${usd(idle.extras.total)}** |`,
    '',
    `The whole idle stage: ${usd(idle.stack.total + idle.extras.total)} a month (was ${usd(before.idleStageTotal)}, ` +
      `when the monitor swept every 5 s all the time and published 8 metrics a sweep). ` +
      `While runs are in flight the monitor watches — a sweep every ${m.loopSeconds} s for up to ${m.runSeconds} s of each minute — ` +
      `for about ${usd(idle.watchingPerHour)} an hour. ` +
      `Each idle agent adds ${usd(idle.perAgent.total)} a month (was ${usd(before.perAgent)}: its lease heartbeats, long polls and job discovery, measured). ` +
      `Once fires run, the dispatcher publishes ${inv.firingCustomMetrics} more custom metrics (fires by outcome, lateness): ` +
      `${usd(idle.whileFiring.total)} a month. \`-c vpc=new\` adds ${usd(vpcExtra)} a month ` +
      `(${withVpc.inventory.natGateways} NAT gateway ${usd(withVpc.idle.extras.dollars['NAT gateway'] ?? 0)}, ` +
      `its public IPv4 address ${usd(withVpc.idle.extras.dollars['public IPv4'] ?? 0)}) plus $0.045 per GB through the NAT gateway.`,
  ];
  if (fires) {
    const fireHow: Record<string, string> = {
      'Scheduler invocation': '1 per fire',
      'dispatcher Lambda requests': '1 per fire',
      'dispatcher Lambda duration': `${COST_ASSUMPTIONS.dispatcherMs} ms at ${inv.dispatcherGb} GB`,
      'DynamoDB writes': `${fires.perFire.dynamoWriteUnits} write units per fire`,
      'DynamoDB reads': `${fires.perFire.dynamoReadUnits} read units per fire`,
      'SQS requests': `${fires.perFire.sqsRequests} requests per fire`,
      logs:
        `${fires.perFire.logBytes} bytes per fire, measured: the fire's metric line, debug lines in the ${inv.dispatcherLogSampleRate * 100}% of invocations sampled` +
        (inv.dispatcherPlatformLines
          ? ", Lambda's lines (1 KB, estimate)"
          : "; Lambda's START/REPORT lines off"),
    };
    lines.push(
      '',
      '**Per million fires** (SQS path):',
      '',
      '| item | how | per million fires |',
      '| --- | --- | --- |',
      ...rows(fires.dollars, fireHow),
      `| **total** | | **${usd(fires.total)}** |`,
    );
  }
  return lines.join('\n');
}

/**
 * The `costs` bench: counts a quiet stage's monitor and planner requests over a simulated hour
 * (bench/idle-hour.ts) and an idle agent's requests for `idleSeconds`, on a stack of its own, reads
 * requests per fire from `requestsPerFire` (requests-per-fire's figures), and prices them all.
 */
export function costs(
  requestsPerFire: { readonly figures?: Figures; readonly measuredAt: string } | undefined,
  idleSeconds = 60,
): Promise<Figures> {
  const prices = loadPrices();
  return withBenchStack({ name: 'costs' }, async ({ plane, clients, prefix, agent, ownClients }) => {
    const inventory = await stageInventory(stageTemplate());
    // The quiet hour first, on its own clients (each function's): the agent below is not in it.
    const from = Math.floor(Date.now() / 60_000) * 60_000;
    await quietStage(plane, from);
    const hour = await idleHour({
      prefix,
      clients: { monitor: ownClients().clients, dispatcher: ownClients().clients },
      from,
      everyMinutes: {
        monitor: MINUTES_PER_MONTH / inventory.monitor.invocationsPerMonth,
        planner: MINUTES_PER_MONTH / inventory.planner.invocationsPerMonth,
      },
    });

    await plane.jobService.define({
      jobId: 'costs',
      handler: 'bench.noop',
      schedule: { expression: 'rate(1 hour)' },
    });
    const counter = new RequestCounter(clients, prefix);
    // Default agent settings (worker-agent/config.ts): heartbeat every 4 s, 20 s long polls, job discovery.
    await agent({ workerId: 'bench-idle', handlers: { 'bench.noop': async () => {} } });
    counter.reset();
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const agentPerHour = Object.fromEntries(
      Object.entries(counter.snapshot()).map(([label, n]) => [label, Math.round((n * 3600) / idleSeconds)]),
    );

    const byOperation = requestsPerFire?.figures?.byOperation as Record<string, number> | undefined;
    // A fire's expected log: the info level's bytes, and the debug level's for the sampled share.
    const logs = requestsPerFire?.figures?.dispatcherLogBytesPerFire as FireLogBytes | undefined;
    const logBytesPerFire =
      logs && Math.round(logs.info + inventory.dispatcherLogSampleRate * (logs.debug - logs.info));
    const priced = stageCosts(prices, inventory, {
      monitorRequestsPerHour: hour.monitor,
      plannerRequestsPerHour: hour.planner,
      agentRequestsPerHour: agentPerHour,
      ...(byOperation ? { requestsPerFire: byOperation, logBytesPerFire } : {}),
    });
    return {
      priceTable: { date: prices.date, region: prices.region, source: 'bench/aws-prices.json' },
      assumptions: COST_ASSUMPTIONS,
      before: BEFORE_IDLE_WORK,
      inventory,
      idle: {
        agentRequestsPerHour: agentPerHour,
        monitorRequestsPerHour: hour.monitor,
        plannerRequestsPerHour: hour.planner,
        hour: {
          monitorInvocations: hour.monitorInvocations,
          monitorSweeps: hour.monitorSweeps,
          monitorWatched: hour.monitorWatched,
          plannerPasses: hour.plannerPasses,
          metricLines: hour.metricLines,
          plannerPassMs: hour.plannerPassMs,
        },
        ...priced.idle,
      },
      ...(priced.perMillionFires
        ? {
            perMillionFires: {
              requestsPerFire: byOperation,
              logBytesPerFire,
              requestsMeasuredAt: requestsPerFire?.measuredAt,
              ...priced.perMillionFires,
            },
          }
        : { perMillionFires: 'not computed: run the requests-per-fire bench first' }),
    };
  });
}
