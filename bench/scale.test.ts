import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalCost } from './scale';

test('renewal cost: agents × renewals an hour × 730 hours × write units, at $0.625 per million', () => {
  // 200 agents every 2 s: 360,000 renewals an hour; 262.8 million a month; 2 units each.
  assert.deepEqual(renewalCost(200, 2, 2), {
    renewalsPerHour: 360_000,
    writeUnitsPerRenewal: 2,
    writeUnitsPerMonth: 525_600_000,
    dollarsPerMonth: 328.5,
  });
  assert.equal(renewalCost(1, 3600, 1).writeUnitsPerMonth, 730);
});
