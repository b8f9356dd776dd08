import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalCost } from './scale';

test('renewal cost: agents × renewals an hour × 720 hours × write units × the unit price', () => {
  // 200 agents every 4 s: 180,000 renewals an hour; 129.6 million a month; 1 unit each at $0.625 per million.
  assert.deepEqual(renewalCost(200, 4, 1, 0.625e-6), {
    renewalsPerHour: 180_000,
    writeUnitsPerRenewal: 1,
    writeUnitsPerMonth: 129_600_000,
    dollarsPerMonth: 81,
  });
  // Before the lease had its own item: every 2 s, 2 units (the workers item and its byPool index).
  assert.equal(renewalCost(200, 2, 2, 0.625e-6).dollarsPerMonth, 324);
  // The leases table has no index: 1 unit a renewal by default.
  assert.equal(renewalCost(1, 3600).writeUnitsPerRenewal, 1);
});
