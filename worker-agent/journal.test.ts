import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { LogFields, Logger, LogLevel } from '../core/log';
import { JOURNAL_LOCK, Journal, type JournalEntry, JournalInUseError, lockJournalDir } from './journal';

const mode = async (path: string) => (await stat(path)).mode & 0o777;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clover-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function outcome(runId: string, at: number): JournalEntry {
  return {
    kind: 'outcome',
    runId,
    fence: 3,
    attempt: 1,
    outcome: { status: 'SUCCEEDED', result: { n: at } },
    at,
  };
}

function logBatch(runId: string, at: number, lines: string[]): JournalEntry {
  return { kind: 'log', runId, fence: 3, lines, at };
}

function recordingLogger(): Logger & { records: { level: LogLevel; message: string; fields?: LogFields }[] } {
  const records: { level: LogLevel; message: string; fields?: LogFields }[] = [];
  const logger = {
    records,
    log(level: LogLevel, message: string, fields?: LogFields) {
      records.push({ level, message, fields });
    },
    child: () => logger,
  };
  return logger;
}

async function collect(journal: Journal): Promise<JournalEntry[]> {
  const seen: JournalEntry[] = [];
  const result = await journal.replay(async (entry) => {
    seen.push(entry);
  });
  assert.equal(result.error, undefined);
  return seen;
}

describe('Journal', () => {
  test('GIVEN appended entries WHEN replayed THEN apply sees them in order and the journal empties', async () => {
    const journal = new Journal({ dir });
    const entries = [outcome('r1', 1), logBatch('r2', 2, ['a', 'b']), outcome('r2', 3)];
    for (const entry of entries) await journal.append(entry);
    assert.equal(await journal.pending(), 3);
    assert.deepEqual(await collect(journal), entries);
    assert.equal(await journal.pending(), 0);
    assert.deepEqual(await readdir(dir), []);
    assert.deepEqual(await collect(journal), [], 'nothing is applied twice');
  });

  test('concurrent appends keep call order', async () => {
    const journal = new Journal({ dir });
    const entries = Array.from({ length: 20 }, (_, i) => outcome(`r${i}`, i));
    await Promise.all(entries.map((e) => journal.append(e)));
    assert.deepEqual(await collect(journal), entries);
  });

  test('GIVEN a crash (a new instance over the same dir) THEN everything acknowledged is replayed, old before new', async () => {
    const first = new Journal({ dir });
    await first.append(outcome('before-1', 1));
    await first.append(outcome('before-2', 2));
    // No close(): the process "died". A new process opens the directory.
    const second = new Journal({ dir });
    await second.append(outcome('after', 3));
    const files = await readdir(dir);
    assert.equal(files.length, 2, 'the new process writes its own segment');
    assert.deepEqual(
      (await collect(second)).map((e) => e.runId),
      ['before-1', 'before-2', 'after'],
    );
  });

  test('GIVEN apply fails part-way THEN applied entries are removed and the rest stay in order, even across a restart', async () => {
    const journal = new Journal({ dir });
    for (let i = 1; i <= 5; i += 1) await journal.append(outcome(`r${i}`, i));
    const seen: string[] = [];
    const boom = new Error('control plane unavailable');
    const result = await journal.replay(async (entry) => {
      if (entry.runId === 'r3') throw boom;
      seen.push(entry.runId);
    });
    assert.deepEqual(seen, ['r1', 'r2']);
    assert.equal(result.applied, 2);
    assert.equal(result.pending, 3);
    assert.equal(result.error, boom);
    await journal.append(outcome('r6', 6));
    const restarted = new Journal({ dir });
    assert.deepEqual(
      (await collect(restarted)).map((e) => e.runId),
      ['r3', 'r4', 'r5', 'r6'],
    );
  });

  test('appends made while a replay runs are kept for the next replay', async () => {
    const journal = new Journal({ dir });
    await journal.append(outcome('r1', 1));
    const seen: string[] = [];
    const result = await journal.replay(async (entry) => {
      seen.push(entry.runId);
      await journal.append(outcome('during', 2));
    });
    assert.deepEqual(seen, ['r1']);
    assert.equal(result.pending, 1);
    assert.deepEqual(
      (await collect(journal)).map((e) => e.runId),
      ['during'],
    );
  });

  test('a torn last line (crash mid-append) is skipped with a warning; complete lines are replayed', async () => {
    const first = new Journal({ dir });
    await first.append(outcome('r1', 1));
    await first.append(outcome('r2', 2));
    const [segment] = await readdir(dir);
    assert.ok(segment);
    await appendFile(join(dir, segment), '{"kind":"outcome","runId":"r3","fen');
    const logger = recordingLogger();
    const second = new Journal({ dir, logger });
    assert.equal(await second.pending(), 2);
    assert.deepEqual(
      (await collect(second)).map((e) => e.runId),
      ['r1', 'r2'],
    );
    assert.ok(logger.records.some((r) => r.level === 'warn' && r.message.includes('torn')));
  });

  test('an unreadable line in the middle is skipped and logged as an error', async () => {
    await writeFile(
      join(dir, 'segment-000000000001.jsonl'),
      `${JSON.stringify(outcome('r1', 1))}\nnot json\n${JSON.stringify({ kind: 'bogus' })}\n${JSON.stringify(outcome('r2', 2))}\n`,
    );
    const logger = recordingLogger();
    const journal = new Journal({ dir, logger });
    assert.deepEqual(
      (await collect(journal)).map((e) => e.runId),
      ['r1', 'r2'],
    );
    assert.equal(logger.records.filter((r) => r.level === 'error').length, 2);
  });

  test('a leftover compaction temp file is removed; its segment is intact', async () => {
    const first = new Journal({ dir });
    await first.append(outcome('r1', 1));
    const [segment] = await readdir(dir);
    await writeFile(join(dir, `${segment}.tmp`), 'partial');
    const second = new Journal({ dir });
    assert.deepEqual(
      (await collect(second)).map((e) => e.runId),
      ['r1'],
    );
    assert.deepEqual(await readdir(dir), []);
  });

  test('an invalid entry is refused before anything is written', async () => {
    const journal = new Journal({ dir });
    await assert.rejects(
      journal.append({
        kind: 'outcome',
        runId: '',
        fence: 0,
        attempt: 1,
        outcome: { status: 'SUCCEEDED' },
        at: 1,
      }),
      TypeError,
    );
    assert.equal(await journal.pending(), 0);
  });

  test('lines on disk are JSON, one entry each', async () => {
    const journal = new Journal({ dir });
    await journal.append(logBatch('r1', 1, ['line with\nnewline']));
    await journal.close();
    const [segment] = await readdir(dir);
    const text = await readFile(join(dir, segment ?? ''), 'utf8');
    assert.equal(text.split('\n').length, 2);
    assert.deepEqual(JSON.parse(text), logBatch('r1', 1, ['line with\nnewline']));
  });

  test('owner-only on disk: directory 0700, segments 0600, compactions too; an older journal is tightened', async () => {
    const fresh = join(dir, 'agent', 'journal');
    const journal = new Journal({ dir: fresh });
    await journal.append(outcome('r1', 1));
    await journal.append(outcome('r2', 2));
    await journal.close();
    assert.equal(await mode(fresh), 0o700);
    const [segment] = await readdir(fresh);
    assert.equal(await mode(join(fresh, segment ?? '')), 0o600);

    // As an install from before the rule left it.
    await chmod(fresh, 0o755);
    await chmod(join(fresh, segment ?? ''), 0o644);
    const release = await lockJournalDir(fresh);
    assert.equal(await mode(fresh), 0o700);
    assert.equal(await mode(join(fresh, JOURNAL_LOCK)), 0o600);
    const reopened = new Journal({ dir: fresh });
    assert.equal(await reopened.pending(), 2);
    assert.equal(await mode(join(fresh, segment ?? '')), 0o600);
    // A partial replay rewrites the segment (compaction): still 0600.
    await chmod(join(fresh, segment ?? ''), 0o644);
    const result = await reopened.replay(async (entry) => {
      if (entry.runId === 'r2') throw new Error('control plane still down');
    });
    assert.equal(result.pending, 1);
    assert.equal(await mode(join(fresh, segment ?? '')), 0o600);
    await reopened.append(outcome('r3', 3));
    for (const name of await readdir(fresh)) assert.equal(await mode(join(fresh, name)), 0o600, name);
    await reopened.close();
    await release();
  });

  test('only one replay at a time', async () => {
    const journal = new Journal({ dir });
    await journal.append(outcome('r1', 1));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered: () => void = () => {};
    const applying = new Promise<void>((r) => {
      entered = r;
    });
    const first = journal.replay(() => {
      entered();
      return gate;
    });
    // The first replay is inside its apply: in progress for certain.
    await applying;
    await assert.rejects(
      journal.replay(async () => {}),
      /already in progress/,
    );
    release();
    assert.equal((await first).applied, 1);
  });
});

describe('lockJournalDir', () => {
  test('a directory another live agent holds is refused, naming the pid and the way out', async () => {
    // The test runner's parent is alive and is not this process: it stands for the other agent.
    await writeFile(join(dir, JOURNAL_LOCK), `${process.ppid}\n`);
    await assert.rejects(lockJournalDir(dir), (error: unknown) => {
      assert.ok(error instanceof JournalInUseError);
      assert.equal(error.pid, process.ppid);
      assert.match(error.message, /give each agent process its own journalDir \(--journal-dir/);
      return true;
    });
  });

  test('a lock left by a dead process (kill -9) is taken over; release removes it', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(join(dir, JOURNAL_LOCK), `${dead}\n`);
    const release = await lockJournalDir(dir);
    assert.equal((await readFile(join(dir, JOURNAL_LOCK), 'utf8')).trim(), String(process.pid));
    await release();
    assert.deepEqual(await readdir(dir), []);
  });
});
