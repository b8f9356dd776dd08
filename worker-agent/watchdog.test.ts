/**
 * A shell handler's command dies with the process that runs it (issue 9). A real "host" process runs
 * shellHandler on a command that records its pids, then is killed with SIGKILL — nothing it could
 * clean up after — and the command, its children and the watchdog must all be gone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { processAlive, waitForProcessesGone } from '../test/harness/processes';

const HOST = `
import { shellHandler } from ${JSON.stringify(join(import.meta.dirname, 'shell-handler.ts'))};
const [script, grace] = process.argv.slice(2);
const run = shellHandler({ argv: ['/bin/sh', '-c', script], killGraceSeconds: Number(grace) });
await run({
  jobId: 'j', runId: 'j@1', scheduledTime: '2026-01-01T00:00:00Z', attempt: 1, payload: null,
  signal: new AbortController().signal, deadlineAt: Date.now() + 600_000,
  progress() {}, log: (line) => console.log(line),
});
`;

/** Starts a host running `script`; resolves once the script has written its pids (one per line). */
async function hostRunning(script: string, graceSeconds: number) {
  const dir = await mkdtemp(join(tmpdir(), 'clover-watchdog-'));
  const hostFile = join(dir, 'host.mts');
  await writeFile(hostFile, HOST);
  const pidFile = join(dir, 'pids');
  const host = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      hostFile,
      script.replaceAll('$PIDS', pidFile),
      String(graceSeconds),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const exited = new Promise((resolve) => host.once('exit', resolve));
  const end = Date.now() + 30_000;
  let pids: number[] = [];
  while (pids.length < 2) {
    if (Date.now() > end) assert.fail('the command did not start');
    await new Promise((r) => setTimeout(r, 20));
    pids = (await readFile(pidFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  }
  // The group's leader is the watchdog: its pid is the group id.
  const stat = await readFile(`/proc/${pids[0]}/stat`, 'utf8');
  const watchdog = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  assert.notEqual(watchdog, host.pid, 'the command is not in the host’s group');
  return { host, exited, pids: [...pids, watchdog] };
}

test('SIGKILL of the agent: its command and the command’s children are gone within 2 s', async () => {
  const { host, exited, pids } = await hostRunning('echo $$ >> $PIDS; sleep 60 & echo $! >> $PIDS; wait', 5);
  for (const pid of pids) assert.ok(processAlive(pid), `pid ${pid} runs before the kill`);
  host.kill('SIGKILL');
  await exited;
  const tookMs = await waitForProcessesGone(pids, 2_000);
  console.log(`command group gone ${tookMs} ms after the agent was killed`);
});

test('a command that ignores SIGTERM is still gone after the kill grace when its agent dies', async () => {
  const { host, exited, pids } = await hostRunning(
    "trap '' TERM; echo $$ >> $PIDS; sleep 60 & echo $! >> $PIDS; while :; do wait; done",
    1,
  );
  host.kill('SIGKILL');
  await exited;
  await waitForProcessesGone(pids, 1_000 + 3_000);
});
