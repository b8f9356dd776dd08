/**
 * Process checks for fault tests: is a pid still a running process (a zombie waiting to be reaped
 * does not count: it runs nothing), and waiting until a set of pids is gone.
 */
import { readFileSync } from 'node:fs';

/** True while `pid` is a live, non-zombie process. */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // Field 3, after the parenthesised command name (which may itself contain spaces or parens).
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Resolves with the ms it took until none of `pids` is alive; rejects after `timeoutMs`. */
export async function waitForProcessesGone(pids: readonly number[], timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const alive = pids.filter(processAlive);
    if (alive.length === 0) return Date.now() - start;
    if (Date.now() - start > timeoutMs) {
      throw new Error(`processes still alive after ${timeoutMs} ms: ${alive.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
