/**
 * A whole control plane over in-memory fakes with a hand-driven clock, for unit tests of the
 * monitor, notifier and alert paths: the same wiring as core/adapters/control-plane.ts.
 */
import { RecordingAlertHook } from '../alerts';
import { ContactService } from '../contacts';
import { DependentFires } from '../dependents';
import { Dispatcher } from '../dispatch';
import { EndpointGuard } from '../endpoints';
import { RunExecution } from '../execution';
import { JobService } from '../jobs';
import { silentLogger } from '../log';
import type { Job, JobSpecInput, WorkerRegistrationInput } from '../model';
import { Monitor, type MonitorOptions } from '../monitor';
import { Notifier, type NotifierConfig } from '../notify';
import { WorkerDirectory } from '../worker-directory';
import {
  MemoryAlertQueue,
  MemoryAlertStore,
  MemoryContactStore,
  MemoryFireDeadLetters,
} from './memory-alerts';
import { MemoryChannelSender, StaticHostResolver } from './memory-channels';
import {
  MemoryDelivery,
  MemoryDependencyJoins,
  MemoryJobStore,
  MemoryLockStore,
  MemoryMailer,
  MemoryRunLedger,
  MemoryScheduleGateway,
  MemoryWorkerRegistry,
} from './memory-stores';
import { storedJob, workerRegistration } from './world-parts';

export const WORLD_T0 = Date.parse('2026-01-30T10:00:00Z');

export function alertingWorld(
  options: { monitor?: MonitorOptions; notifier?: Partial<NotifierConfig>; leaseMs?: number } = {},
) {
  const clock = {
    t: WORLD_T0,
    now() {
      return this.t;
    },
    advance(ms: number) {
      this.t += ms;
    },
  };
  const log = silentLogger;
  const jobs = new MemoryJobStore();
  const locks = new MemoryLockStore();
  const runs = new MemoryRunLedger(locks);
  const registry = new MemoryWorkerRegistry();
  const delivery = new MemoryDelivery();
  const schedules = new MemoryScheduleGateway();
  const alertStore = new MemoryAlertStore();
  const queue = new MemoryAlertQueue(clock);
  const contactStore = new MemoryContactStore();
  const deadLetters = new MemoryFireDeadLetters();
  const mailer = new MemoryMailer();
  mailer.verified.add('clover@example.com');
  const alerts = new RecordingAlertHook({ alerts: alertStore, queue, log });
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const dispatcher = new Dispatcher({
    jobs,
    runs,
    locks,
    workers: new WorkerDirectory(registry, 0),
    delivery,
    clock,
    log,
    alerts,
    random,
  });
  const joins = new MemoryDependencyJoins();
  const dependents = new DependentFires({ jobs, runs, joins, dispatcher, clock, log });
  const execution = new RunExecution({ jobs, runs, dispatcher, clock, log, random, alerts, dependents });
  const jobService = new JobService({ jobs, schedules, workers: registry, clock, log });
  const resolver = new StaticHostResolver({
    'hooks.slack.example': ['93.184.215.14'],
    'intranet.example': ['10.1.2.3'],
  });
  const channels = new MemoryChannelSender(resolver);
  const contacts = new ContactService({
    contacts: contactStore,
    log,
    endpoints: new EndpointGuard({ resolver, policy: {} }),
  });
  const monitor = new Monitor({
    jobs,
    runs,
    locks,
    workers: registry,
    dispatcher,
    jobService,
    alerts,
    alertStore,
    alertQueue: queue,
    deadLetters,
    dependents,
    clock,
    log,
    ...(options.monitor ? { options: options.monitor } : {}),
  });
  const sleeps: number[] = [];
  const notifier = new Notifier({
    alerts: alertStore,
    queue,
    contacts,
    jobs,
    mailer,
    channels,
    clock,
    log,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    config: { from: 'clover@example.com', consoleUrl: 'https://console.example.com', ...options.notifier },
  });
  const leaseMs = options.leaseMs ?? 10_000;
  return {
    clock,
    jobs,
    runs,
    locks,
    registry,
    delivery,
    schedules,
    alertStore,
    queue,
    contactStore,
    deadLetters,
    mailer,
    channels,
    sleeps,
    alerts,
    dispatcher,
    joins,
    dependents,
    execution,
    jobService,
    contacts,
    monitor,
    notifier,
    async job(spec: Partial<JobSpecInput> = {}): Promise<Job> {
      const job = storedJob({ contacts: ['owner'], ...spec }, clock.now());
      await jobs.put(job, 0);
      return job;
    },
    worker(workerId: string, extra: Partial<WorkerRegistrationInput> = {}) {
      return registry.register(workerRegistration(workerId, extra), clock.now(), leaseMs);
    },
    /** Claims the latest delivery of `runId` as the worker it went to. */
    claim(runId: string) {
      const sent = delivery.delivered.findLast((d) => d.envelope.runId === runId);
      if (!sent) throw new Error(`run ${runId} was not delivered`);
      const workerId = sent.target.kind === 'worker' ? sent.target.worker.workerId : 'pool-worker';
      return execution.claim(sent.envelope, workerId);
    },
    /** Feeds every due alert-queue message to the notifier, until none is due. */
    async notifyAll() {
      for (let round = 0; round < 10; round++) {
        const due = queue.take();
        if (due.length === 0) return;
        for (const message of due) await notifier.process(message);
      }
    },
    alertKinds(): string[] {
      return [...alertStore.records.values()].filter((r) => !r.digest).map((r) => r.kind);
    },
  };
}
