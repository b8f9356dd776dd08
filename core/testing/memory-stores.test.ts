import type { DeliveryTarget } from '../ports';
import { deliveryContract } from './contracts/delivery';
import { dependencyJoinsContract } from './contracts/dependency-joins';
import { sampleRegistration } from './contracts/fixtures';
import { jobStoreContract } from './contracts/job-store';
import { mailerContract } from './contracts/mailer';
import { runLedgerContract } from './contracts/run-ledger';
import { scheduleGatewayContract } from './contracts/schedule-gateway';
import { watchStoreContract } from './contracts/watch-store';
import { workerRegistryContract } from './contracts/worker-registry';
import {
  MemoryDelivery,
  MemoryDependencyJoins,
  MemoryJobStore,
  MemoryLockStore,
  MemoryMailer,
  MemoryRunLedger,
  MemoryScheduleGateway,
  MemoryWatchStore,
  MemoryWorkerRegistry,
} from './memory-stores';

jobStoreContract('memory', async () => ({ jobs: new MemoryJobStore() }));

runLedgerContract('memory', async () => {
  const locks = new MemoryLockStore();
  const jobs = new MemoryJobStore();
  return { ledger: new MemoryRunLedger(locks), locks, jobs };
});

dependencyJoinsContract('memory', async () => ({ joins: new MemoryDependencyJoins() }));

workerRegistryContract('memory', async () => ({ workers: new MemoryWorkerRegistry() }));

watchStoreContract('memory', async () => ({ watch: new MemoryWatchStore() }));

scheduleGatewayContract('memory', async () => ({ schedules: new MemoryScheduleGateway() }));

deliveryContract('memory', async () => {
  const delivery = new MemoryDelivery();
  const pool: DeliveryTarget = { kind: 'pool', pool: 'default' };
  const registration = sampleRegistration();
  const worker: DeliveryTarget = {
    kind: 'worker',
    worker: {
      ...registration,
      status: 'ACTIVE',
      leaseFence: 1,
      leaseExpiresAt: 1,
      registeredAt: 0,
      heartbeatAt: 0,
      load: 0,
    },
  };
  let seen = 0;
  return {
    delivery,
    pool,
    worker,
    async received(target) {
      const fresh = delivery.delivered.slice(seen);
      seen = delivery.delivered.length;
      return fresh.filter((d) => d.target.kind === target.kind).map((d) => d.envelope);
    },
  };
});

mailerContract('memory', async () => {
  const mailer = new MemoryMailer();
  return {
    mailer,
    async verify(address) {
      mailer.verified.add(address);
    },
    async readBack(messageId) {
      const sent = mailer.sent.find((m) => m.messageId === messageId);
      return sent && { from: sent.from, to: sent.to, subject: sent.subject };
    },
  };
});
