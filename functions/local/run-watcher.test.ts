/**
 * The run watcher of `npm start` against the emulator: every transition printed once, including runs
 * that open and close between two polls (they are in no open list at any poll).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import type { LogFields, Logger } from '../../core/log';
import { isoSeconds, type Run } from '../../core/model';
import { sampleRun, uniqueId } from '../../core/testing/contracts/fixtures';
import { useEmulator } from '../../test/harness';
import { RunWatcher } from './run-watcher';

const aws = useEmulator();

function recordingLogger() {
  const lines: { message: string; fields: LogFields }[] = [];
  const logger: Logger = {
    log: (_level, message, fields = {}) => lines.push({ message, fields }),
    child: () => logger,
  };
  return { logger, lines };
}

test('a run that opens and closes between two polls is printed once, with its final status', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.setupClients, prefix: aws.prefix });
  const { logger, lines } = recordingLogger();
  const watcher = new RunWatcher(plane.runs, plane.apiReads, logger, { recentEveryMs: 0 });
  const printed = (runId: string) => lines.filter((l) => l.fields.runId === runId).map((l) => l.message);
  await watcher.poll();

  const now = Date.now();
  /** PENDING → DISPATCHED → RUNNING, as a dispatch and a claim would leave it. */
  const started = async (jobId: string) => {
    const run = sampleRun({ jobId, scheduledTime: isoSeconds(now), createdAt: now, updatedAt: now });
    await plane.runs.create(run);
    await plane.runs.transition(run.runId, { from: ['PENDING'], fence: 1, to: 'DISPATCHED', at: now + 1 });
    return plane.runs.transition(run.runId, { from: ['DISPATCHED'], fence: 1, to: 'RUNNING', at: now + 2 });
  };
  const finished = (run: Run, to: 'SUCCEEDED' | 'FAILED') =>
    plane.runs.finish(run, { from: ['RUNNING'], fence: 1, to, at: now + 3 });

  const quick = await started(uniqueId('quick'));
  await finished(quick, 'SUCCEEDED');
  await watcher.poll();
  assert.deepEqual(printed(quick.runId), ['run SUCCEEDED']);

  // An open run is printed as it is, then once more when it closes; nothing is printed twice.
  const slow = await started(uniqueId('slow'));
  await watcher.poll();
  await finished(slow, 'FAILED');
  await watcher.poll();
  await watcher.poll();
  assert.deepEqual(printed(slow.runId), ['run RUNNING', 'run FAILED']);
  assert.deepEqual(printed(quick.runId), ['run SUCCEEDED']);
});
