import type { AwsClients } from '../../core/adapters/aws-clients';
import type { ControlPlane } from '../../core/adapters/control-plane';
import { ensureWorkerQueue, SqsInbox } from '../../core/adapters/sqs-inbox';
import type { DispatchEnvelope } from '../../core/envelope';
import { type Worker, type WorkerRegistrationInput, WorkerRegistrationSchema } from '../../core/model';

export interface FleetMember {
  readonly worker: Worker;
  readonly inbox: SqsInbox;
}

/**
 * Registers a worker the way an agent does — its own SQS queue, then a lease naming it — without an
 * agent process, for tests of the dispatch path. Lease TTL defaults to ten minutes.
 */
export async function joinFleet(
  plane: ControlPlane,
  clients: AwsClients,
  registration: Omit<WorkerRegistrationInput, 'host'> & { host?: string },
  ttlMs = 600_000,
): Promise<FleetMember> {
  const queueUrl = await ensureWorkerQueue(clients.sqs, plane.prefix, registration.workerId);
  const worker = await plane.workers.register(
    WorkerRegistrationSchema.parse({
      host: `${registration.workerId}.test`,
      ...registration,
      endpoints: { ...registration.endpoints, queueUrl },
    }),
    Date.now(),
    ttlMs,
  );
  return { worker, inbox: new SqsInbox(clients.sqs, queueUrl) };
}

/** Receives and acks everything in the inbox until a receive comes back empty. */
export async function drainInbox(inbox: SqsInbox, waitSeconds = 1): Promise<DispatchEnvelope[]> {
  const envelopes: DispatchEnvelope[] = [];
  for (;;) {
    const batch = await inbox.receive({ waitSeconds });
    if (batch.length === 0) return envelopes;
    for (const message of batch) {
      if (message.ok) envelopes.push(message.envelope);
      await inbox.ack(message.receipt);
    }
  }
}
