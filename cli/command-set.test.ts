/**
 * The CLI's commands as a whole: every command and action has help, and every API route a user calls
 * is reachable from a command. In process, against the scripted server of cli/testing/scripted-api.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routes } from '../core/api/routes';
import { clover, seen, useScriptedApi } from './testing/scripted-api';

useScriptedApi();

test('every command and action has help that names its usage and the connection options', async () => {
  const main = await clover(['--help']);
  assert.equal(main.code, 0);
  const groups = [...main.out.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] ?? '');
  assert.ok(groups.includes('jobs') && groups.includes('runs') && groups.includes('stats'), groups.join());
  for (const name of groups.filter((g) => g !== 'schedule')) {
    const help = await clover([name, '--help']);
    assert.equal(help.code, 0, name);
    assert.match(help.out, new RegExp(`^Usage: clover ${name}`));
    const actions = [...help.out.matchAll(/^ {2}([a-z]+) {3,}/gm)].map((m) => m[1] ?? '');
    for (const action of actions) {
      const a = await clover([name, action, '--help']);
      assert.equal(a.code, 0, `${name} ${action}`);
      assert.match(a.out, new RegExp(`^Usage: clover ${name} ${action}`));
      assert.match(a.out, /--endpoint URL/);
    }
  }
  assert.equal(seen.length, 0);
});

test('every API route except login, health and the agent-only ones is reachable from a command', async () => {
  const { readFile } = await import('node:fs/promises');
  const { readdir } = await import('node:fs/promises');
  const dir = new URL('.', import.meta.url);
  const sources = (
    await Promise.all(
      (
        await readdir(dir)
      )
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => readFile(new URL(f, dir), 'utf8')),
    )
  ).join('\n');
  const unused = routes
    .map((r) => r.id)
    .filter((id) => !['health', 'localLogin', 'previewSchedule'].includes(id))
    .filter((id) => !sources.includes(`'${id}'`));
  assert.deepEqual(unused, []);
});
