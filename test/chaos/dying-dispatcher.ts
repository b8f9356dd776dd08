/**
 * A dispatcher process that dies by kill -9 between writing a fire's run and sending its message
 * (dispatcher-dies.chaos.ts): the real dispatcher over the emulator, whose delivery SIGKILLs its own
 * process the moment the envelope is handed to it — after the run (and its lock) were written, before
 * anything reached a queue. Environment as for an agent (AWS_ENDPOINT_URL, AWS_REGION, credentials,
 * CLOVER_PREFIX).
 *
 *   node --import tsx test/chaos/dying-dispatcher.ts <jobId> <scheduledTime>
 */
import { awsClients } from '../../core/adapters/aws-clients';
import { controlPlane } from '../../core/adapters/control-plane';
import { Dispatcher } from '../../core/dispatch';

const [jobId, scheduledTime] = process.argv.slice(2);
const prefix = process.env.CLOVER_PREFIX;
if (!jobId || !scheduledTime || !prefix) {
  throw new Error('usage: CLOVER_PREFIX=<prefix> dying-dispatcher.ts <jobId> <scheduledTime>');
}
const plane = controlPlane({ clients: awsClients(), prefix });
const dispatcher = new Dispatcher({
  jobs: plane.jobs,
  runs: plane.runs,
  locks: plane.locks,
  workers: plane.directory,
  delivery: {
    deliver: () => {
      process.kill(process.pid, 'SIGKILL');
      return new Promise<never>(() => {});
    },
  },
  clock: plane.clock,
  log: plane.log,
  alerts: plane.alerts,
});
await dispatcher.fire({ jobId, scheduledTime });
throw new Error('the dispatcher sent its message: it was meant to die first');
