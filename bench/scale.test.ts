import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalCost } from './scale';

test('renewal cost: agents × renewals an hour × 720 hours × write units × the unit price', () => {
  // 200 agents every 2 s: 360,000 renewals an hour; 259.2 million a month; 2 units each at $0.625 per million.
  assert.deepEqual(renewalCost(200, 2, 2, 0.625e-6), {
    renewalsPerHour: 360_000,
    writeUnitsPerRenewal: 2,
    writeUnitsPerMonth: 518_400_000,
    dollarsPerMonth: 324,
  });
  // The workers table has one index: 2 units a renewal by default.
  assert.equal(renewalCost(1, 3600).writeUnitsPerRenewal, 2);
});
