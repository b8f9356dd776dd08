/**
 * The chaos suite's test handler, loaded by real agents through their config (`module:` handlers).
 * It is the suite's own witness of what ran: every execution appends JSON lines to the shared marker
 * file CLOVER_CHAOS_MARKS (one `O_APPEND` write per line, so lines from many agents never interleave):
 *
 * - `start` when the handler begins (runId, attempt, worker, pid);
 * - `overlap` when it begins while another live process is executing the same run (an "active" file
 *   per run, created exclusively; one left by a killed agent names a dead pid and is taken over);
 * - `end` when its work is done — the side effect that must happen once per fire;
 * - `fail` / `abort` when an attempt fails on purpose or its signal aborts it (deadline, cancel, lease).
 *
 * Payload: `gate` (a file to wait for before working, so the test decides when runs finish),
 * `sleepMs` (work time, default 100) or `attemptSleepMs[attempt - 1]`, `failAttempts` (attempts that
 * throw).
 */
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HandlerContext } from '../../worker-agent/handler';

export interface ChaosPayload {
  readonly gate?: string;
  readonly sleepMs?: number;
  readonly attemptSleepMs?: readonly number[];
  readonly failAttempts?: readonly number[];
}

function mark(ctx: HandlerContext, event: string, extra: Record<string, unknown> = {}): void {
  const file = process.env.CLOVER_CHAOS_MARKS;
  if (!file) throw new Error('CLOVER_CHAOS_MARKS is not set: the chaos handler has nowhere to record');
  const line = {
    e: event,
    runId: ctx.runId,
    attempt: ctx.attempt,
    worker: process.env.CLOVER_TEST_WORKER_ID,
    pid: process.pid,
    at: Date.now(),
    ...extra,
  };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Claims the run's active file; false when a live process holds it (two executions at once). */
function enter(activeFile: string): boolean {
  try {
    writeFileSync(activeFile, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const holder = Number(readFileSync(activeFile, 'utf8'));
    if (holder !== process.pid && alive(holder)) return false;
    writeFileSync(activeFile, String(process.pid)); // left by a killed agent: take it over
    return true;
  }
}

export async function chaos(ctx: HandlerContext): Promise<{ by: string | undefined; attempt: number }> {
  const payload = (ctx.payload ?? {}) as ChaosPayload;
  const marks = process.env.CLOVER_CHAOS_MARKS ?? '';
  const activeFile = join(`${marks}.active`, encodeURIComponent(ctx.runId));
  mark(ctx, 'start');
  const entered = enter(activeFile);
  if (!entered) mark(ctx, 'overlap');
  try {
    if (payload.failAttempts?.includes(ctx.attempt)) {
      mark(ctx, 'fail');
      throw new Error(`attempt ${ctx.attempt} fails on purpose`);
    }
    if (payload.gate) {
      while (!existsSync(payload.gate)) await sleep(50, undefined, { signal: ctx.signal });
    }
    await sleep(payload.attemptSleepMs?.[ctx.attempt - 1] ?? payload.sleepMs ?? 100, undefined, {
      signal: ctx.signal,
    });
  } catch (error) {
    if (ctx.signal.aborted) mark(ctx, 'abort', { reason: String(ctx.signal.reason) });
    throw error;
  } finally {
    if (entered) rmSync(activeFile, { force: true });
  }
  mark(ctx, 'end');
  return { by: process.env.CLOVER_TEST_WORKER_ID, attempt: ctx.attempt };
}
