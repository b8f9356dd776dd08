import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type CostInputs, loadPrices, stageCosts } from './cost-model';
import { costMarkdown } from './costs';
import { DOCUMENTED_STAGE, stageInventory, stageTemplate } from './stage-inventory';

/**
 * The cost figures agree three ways: the last `costs` bench (bench/results/latest.json), a
 * recomputation from the synthesized template priced with that bench's measured requests, and
 * docs/deploy.md's tables. A new alarm, metric or price changes the recomputation: this fails until
 * the bench is run again (`npm run bench -- requests-per-fire costs`) and the docs show its figures.
 */
test('the cost figures of the bench, of the template and of docs/deploy.md are the same', async () => {
  const results = JSON.parse(readFileSync(new URL('./results/latest.json', import.meta.url), 'utf8')) as {
    benches: Record<string, { figures: Record<string, unknown> }>;
  };
  const bench = results.benches.costs!.figures as {
    idle: CostInputs & Record<string, unknown>;
    perMillionFires: { requestsPerFire: Record<string, number>; logBytesPerFire: number } & Record<
      string,
      unknown
    >;
  };
  const inputs: CostInputs = {
    monitorRequestsPerHour: bench.idle.monitorRequestsPerHour,
    plannerRequestsPerHour: bench.idle.plannerRequestsPerHour,
    agentRequestsPerHour: bench.idle.agentRequestsPerHour,
    requestsPerFire: bench.perMillionFires.requestsPerFire,
    logBytesPerFire: bench.perMillionFires.logBytesPerFire,
  };
  const prices = loadPrices();
  const priced = stageCosts(prices, await stageInventory(stageTemplate()), inputs);
  const withVpc = stageCosts(
    prices,
    await stageInventory(stageTemplate({ ...DOCUMENTED_STAGE, vpc: { kind: 'new' } })),
    inputs,
  );
  assert.deepEqual(bench.idle.stack, priced.idle.stack, 'the bench priced the template the test synthesizes');
  assert.deepEqual(bench.idle.extras, priced.idle.extras);
  assert.deepEqual(bench.idle.perAgent, priced.idle.perAgent);
  assert.deepEqual(bench.perMillionFires.dollars, priced.perMillionFires?.dollars);
  assert.equal(bench.perMillionFires.total, priced.perMillionFires?.total);
  const doc = readFileSync(new URL('../docs/deploy.md', import.meta.url), 'utf8');
  const expected = costMarkdown(priced, { withVpc });
  assert.ok(doc.includes(expected), `docs/deploy.md should show these cost tables:\n\n${expected}\n`);
});
