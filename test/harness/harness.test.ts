import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { type Emulator, startEmulator } from '../../infra/local/emulator';
import { uniquePrefix, useEmulator } from './index';

const aws = useEmulator();
const emulatorModule = fileURLToPath(new URL('../../infra/local/emulator.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** Runs a child that starts an emulator, prints its pid, then ends as `ending` says; returns that pid. */
async function pidLeftBy(ending: string): Promise<number | undefined> {
  const script = `
    const { startEmulator } = await import(${JSON.stringify(emulatorModule)});
    const emulator = await startEmulator();
    console.log(JSON.stringify({ pid: emulator.pid ?? null }));
    ${ending}
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `child printed no pid (exit ${code}): ${out}`);
  return (JSON.parse(line) as { pid: number | null }).pid ?? undefined;
}

describe('useEmulator', () => {
  test('starts an emulator that answers DynamoDB', async () => {
    const tables = await aws.clients.dynamodb.send(new ListTablesCommand({}));
    assert.ok(Array.isArray(tables.TableNames));
    assert.match(aws.emulator.endpoint, /^https?:\/\//);
    assert.ok(['moto', 'localstack', 'external'].includes(aws.emulator.kind));
  });

  test('gives each file a distinct t-prefix', () => {
    assert.match(aws.prefix, /^t-[0-9a-f]{8}$/);
    const drawn = new Set(Array.from({ length: 10_000 }, uniquePrefix));
    assert.equal(drawn.size, 10_000);
  });

  test('provisioned() provisions once and shares the stack', async () => {
    const [a, b] = await Promise.all([aws.provisioned(), aws.provisioned()]);
    assert.equal(a, b);
    assert.equal(a.tables.jobs, `${aws.prefix}-jobs`);
  });
});

describe('startEmulator', () => {
  test('stop() ends the moto process it started', async (t) => {
    const emulator: Emulator = await startEmulator();
    if (emulator.kind !== 'moto') {
      await emulator.stop();
      t.skip(`the emulator is ${emulator.kind}, not a moto_server this process started`);
      return;
    }
    const pid = emulator.pid;
    assert.ok(pid !== undefined && alive(pid));
    await emulator.stop();
    assert.equal(alive(pid), false, `moto_server ${pid} still runs after stop()`);
    await emulator.stop(); // a second stop is harmless
  });

  test('moto ends with the process that started it: normal exit, SIGTERM and SIGKILL', async (t) => {
    if (aws.emulator.kind !== 'moto') {
      t.skip(`the emulator is ${aws.emulator.kind}, not a moto_server the harness starts`);
      return;
    }
    for (const ending of [
      'process.exit(0);',
      'process.kill(process.pid, "SIGTERM"); setInterval(() => {}, 1000);',
      // No handler runs: only the kernel can end moto (setpriv --pdeathsig, infra/local/emulator.ts).
      'process.kill(process.pid, "SIGKILL");',
    ]) {
      const pid = await pidLeftBy(ending);
      assert.ok(pid !== undefined, 'the child started moto_server');
      assert.ok(await waitUntilGone(pid), `moto_server ${pid} outlived its parent (${ending})`);
    }
  });
});
