import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewalCost, sweepReadsPerMonth } from './scale';

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

test('sweep reads a month: idle one housekeeping sweep a minute; watching a sweep every 2 s, against a full read each', () => {
  const measured = { fullJobsReadUnits: 1_000, housekeepingSweepUnits: 1_100, warmSweepUnits: 40 };
  const month = sweepReadsPerMonth(measured, 10_000, 2, 0.25e-6);
  // 43,200 minutes: 1,100 units each.
  assert.deepEqual(month.idle, { sweepsPerMonth: 43_200, readUnits: 47_520_000, dollars: 11.88 });
  // 1,296,000 sweeps, 43,200 of them housekeeping: 1,100 × 43,200 + 40 × 1,252,800.
  assert.equal(month.watching.sweepsPerMonth, 1_296_000);
  assert.deepEqual(month.watching.after, { readUnits: 97_632_000, dollars: 24.41 });
  // Before: the whole jobs table every sweep, and a lock GetItem per job each minute.
  assert.deepEqual(month.watching.before, { readUnits: 1_728_000_000, dollars: 432 });
  assert.equal(month.watching.ratio, 17.7);
});
