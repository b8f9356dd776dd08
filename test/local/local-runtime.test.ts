/**
 * The README's main job, `npm start`, as a real process against the test emulator: it provisions,
 * writes .clover/local.env, fires a one-time schedule through the dispatcher at its instant, prints
 * the transitions, and stops cleanly on Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import { emulatorEnv } from '../../infra/local/emulator';
import { useEmulator } from '../harness';

const aws = useEmulator();

/** Local wall-clock time as EventBridge `at()` wants it, in UTC. */
const atExpression = (epochMs: number) => `at(${new Date(epochMs).toISOString().slice(0, 19)})`;

test('npm start provisions, fires schedules at their time, logs each transition, and stops on SIGINT', async () => {
  const workdir = await mkdtemp(join(tmpdir(), 'clover-local-'));
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(process.cwd(), 'functions/local/main.ts'), '--no-demo'],
    {
      cwd: workdir,
      env: {
        ...process.env,
        ...emulatorEnv(aws.emulator),
        CLOVER_PREFIX: aws.prefix,
        // Any free port: other stacks on this machine may hold 8080.
        PORT: '0',
        NODE_OPTIONS: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, what: string) => {
    // A failure bound for a loaded machine, not an expected duration.
    const until = Date.now() + 120_000;
    while (!pattern.test(output) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.match(output, pattern, `${what}; output so far:\n${output}`);
  };
  try {
    await waitFor(/Clover is ready in/, 'the runtime started');
    const env = await readFile(join(workdir, '.clover/local.env'), 'utf8');
    assert.match(env, new RegExp(`AWS_ENDPOINT_URL=${aws.emulator.endpoint}`));
    assert.match(env, new RegExp(`CLOVER_PREFIX=${aws.prefix}`));

    const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix });
    const fireAt = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    await plane.jobService.define({
      jobId: 'once',
      handler: 'ping',
      schedule: { expression: atExpression(fireAt) },
    });
    await waitFor(/run NO_WORKER .*runId=once@/, 'the one-time schedule fired through the dispatcher');
    const run = await plane.runs.get(`once@${new Date(fireAt).toISOString().replace('.000', '')}`);
    assert.equal(run?.status, 'NO_WORKER', 'no agent has joined, so the fire is recorded as NO_WORKER');
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, `exit code; output:\n${output}`);
  assert.match(output, /SIGINT: stopping/);
});
