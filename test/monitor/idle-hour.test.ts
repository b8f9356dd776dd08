/**
 * Idle costs nothing (issue 26): a quiet stage's AWS requests over a simulated hour — the monitor
 * Lambda's handler woken by its every-minute rule, the dispatcher's planner pass by its schedule, no
 * runs (bench/idle-hour.ts) — counted by operation and held to what the cost model prices an idle
 * hour at: the requests the last `costs` bench counted in the same hour (bench/results/latest.json,
 * docs/deploy.md's idle table; bench/costs.test.ts keeps those three equal), the sweeps and passes
 * the template's schedules make, and ≤ $1 a month for compute and data.
 *
 * A monitor that watched at idle (a sweep every few seconds) or read the open runs in more Queries
 * a sweep than the model counted, or a planner that read the jobs at every pass rather than only the
 * precise mark (core/planner.ts, quiet passes), fails here, with the operations over budget in the message; one
 * that reads less passes, and the bench should then be run again for the docs to show it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { COST_ASSUMPTIONS, type CostInputs, loadPrices, stageCosts } from '../../bench/cost-model';
import { idleHour, quietStage } from '../../bench/idle-hour';
import type { StageInventory } from '../../bench/stage-inventory';
import { MINUTES_PER_MONTH } from '../../bench/stage-inventory';
import { awsClients } from '../../core/adapters/aws-clients';
import { controlPlane } from '../../core/adapters/control-plane';
import { useEmulator } from '../harness';

const aws = useEmulator();
/** Issue 26's target for an idle stage's compute and data, per month. */
const IDLE_TARGET_USD = 1;

/** The last costs bench's inventory and measured idle hour (bench/results/latest.json). */
function modelled(): { inventory: StageInventory; hour: CostInputs } {
  const results = JSON.parse(
    readFileSync(new URL('../../bench/results/latest.json', import.meta.url), 'utf8'),
  ) as { benches: Record<string, { figures: { inventory: StageInventory; idle: CostInputs } } | undefined> };
  const figures = results.benches.costs?.figures;
  if (!figures?.idle.monitorRequestsPerHour || !figures.idle.plannerRequestsPerHour) {
    throw new Error(
      'bench/results/latest.json has no idle hour: run `npm run bench -- requests-per-fire costs`',
    );
  }
  return { inventory: figures.inventory, hour: figures.idle };
}

/** `operation: counted > budget` for every operation counted more often than its budget allows. */
function overBudget(counted: Record<string, number>, budget: Readonly<Record<string, number>>): string[] {
  return Object.entries(counted)
    .filter(([label, n]) => n > (budget[label] ?? 0))
    .map(([label, n]) => `${label}: ${n} > ${budget[label] ?? 0}`);
}

test('a quiet stage makes no more AWS requests in an hour than the cost model prices, and costs ≤ $1 a month', async () => {
  const { inventory, hour: budget } = modelled();
  await aws.provisioned();
  const from = Math.floor(Date.now() / 60_000) * 60_000;
  await quietStage(controlPlane({ clients: aws.setupClients, prefix: aws.prefix }), from);
  const { endpoint, region, credentials } = aws.emulator;
  const own = {
    monitor: awsClients({ endpoint, region, credentials }),
    dispatcher: awsClients({ endpoint, region, credentials }),
  };
  const every = {
    monitor: MINUTES_PER_MONTH / inventory.monitor.invocationsPerMonth,
    planner: MINUTES_PER_MONTH / inventory.planner.invocationsPerMonth,
  };
  const hour = await idleHour({ prefix: aws.prefix, clients: own, from, everyMinutes: every }).finally(() => {
    own.monitor.destroy();
    own.dispatcher.destroy();
  });

  const perHour = (perMonth: number) => perMonth / COST_ASSUMPTIONS.hoursPerMonth;
  assert.deepEqual(
    {
      monitorInvocations: hour.monitorInvocations,
      monitorSweeps: hour.monitorSweeps,
      monitorWatched: hour.monitorWatched,
      plannerPasses: hour.plannerPasses,
      metricLines: hour.metricLines,
    },
    {
      monitorInvocations: perHour(inventory.monitor.invocationsPerMonth),
      monitorSweeps: perHour(inventory.monitor.sweepsPerMonth),
      monitorWatched: 0,
      plannerPasses: perHour(inventory.planner.invocationsPerMonth),
      metricLines: 0,
    },
    'one sweep per scheduled invocation, no watching, no metric at idle',
  );
  const counted = JSON.stringify({ monitor: hour.monitor, planner: hour.planner }, null, 2);
  assert.deepEqual(
    [
      ...overBudget(hour.monitor, budget.monitorRequestsPerHour).map((line) => `monitor ${line}`),
      ...overBudget(hour.planner, budget.plannerRequestsPerHour).map((line) => `planner ${line}`),
    ],
    [],
    `the hour's requests by operation, against the model's:\n${counted}`,
  );
  const priced = stageCosts(loadPrices(), inventory, {
    monitorRequestsPerHour: hour.monitor,
    plannerRequestsPerHour: hour.planner,
    agentRequestsPerHour: {},
  });
  assert.ok(
    priced.idle.stack.total <= IDLE_TARGET_USD,
    `idle compute and data $${priced.idle.stack.total} a month: ${JSON.stringify(priced.idle.stack.dollars)}`,
  );
});
