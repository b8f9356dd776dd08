/**
 * A dispatcher process that dies by kill -9 in the middle of a fire, at one of two points:
 *
 * - `send` (dispatcher-dies.chaos.ts): its delivery SIGKILLs its own process the moment the envelope
 *   is handed to it — after the run (and its lock) were written, before anything reached a queue;
 * - `put` (test/dispatch/dispatcher-dies.test.ts): its DynamoDB client SIGKILLs the process as the
 *   run's PutItem is about to leave it — after the job's lock was taken in the run's id, before the run
 *   exists (the crash window core/dispatch/record.ts describes first).
 *
 * The real dispatcher over the emulator either way. Environment as for an agent (AWS_ENDPOINT_URL,
 * AWS_REGION, credentials, CLOVER_PREFIX).
 *
 *   node --import tsx test/chaos/dying-dispatcher.ts <jobId> <scheduledTime> [send|put]
 */
import { awsClients } from '../../core/adapters/aws-clients';
import { controlPlane } from '../../core/adapters/control-plane';
import { Dispatcher } from '../../core/dispatch';
import { physicalName } from '../../infra/resources';

const [jobId, scheduledTime, where = 'send'] = process.argv.slice(2);
const prefix = process.env.CLOVER_PREFIX;
if (!jobId || !scheduledTime || !prefix || (where !== 'send' && where !== 'put')) {
  throw new Error('usage: CLOVER_PREFIX=<prefix> dying-dispatcher.ts <jobId> <scheduledTime> [send|put]');
}
const die = (): Promise<never> => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => {});
};
const clients = awsClients();
if (where === 'put') {
  const runs = physicalName(prefix, 'runs');
  clients.dynamodb.middlewareStack.add(
    (next, context) => (args) => {
      const input = args.input as { TableName?: string };
      return context.commandName === 'PutItemCommand' && input.TableName === runs ? die() : next(args);
    },
    { step: 'initialize', name: 'dieBeforeTheRunPut' },
  );
}
const plane = controlPlane({ clients, prefix });
const dispatcher = new Dispatcher({
  jobs: plane.jobs,
  runs: plane.runs,
  locks: plane.locks,
  workers: plane.directory,
  delivery: where === 'send' ? { deliver: die } : plane.delivery,
  clock: plane.clock,
  log: plane.log,
  alerts: plane.alerts,
});
await dispatcher.fire({ jobId, scheduledTime });
throw new Error(`the dispatcher got past its ${where}: it was meant to die first`);
