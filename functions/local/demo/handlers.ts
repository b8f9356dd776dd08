/**
 * The demo agents' Node handlers (`npm start` without `--no-demo`; functions/local/demo/agent.yaml).
 * They do visible, harmless work so the console has real runs to show: progress bars and log lines,
 * and now and then a failure, which raises an alert mail. Copy them as a starting point for your own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HandlerContext } from '../../../worker-agent/handler';

/** Waits `ms`, or rejects at once when the run is aborted (cancel, timeout, drain). */
const pause = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal });

/** An "export" in `payload.batches` batches (default 5) of about a second each: progress and a log line per batch. */
export async function exportOrders(ctx: HandlerContext): Promise<{ batches: number; rows: number }> {
  const { batches = 5 } = (ctx.payload ?? {}) as { batches?: number };
  ctx.log(`exporting orders for ${ctx.scheduledTime} in ${batches} batches`);
  let rows = 0;
  for (let batch = 1; batch <= batches; batch += 1) {
    await pause(800 + Math.floor(Math.random() * 400), ctx.signal);
    const count = 100 + Math.floor(Math.random() * 900);
    rows += count;
    ctx.log(`batch ${batch}/${batches}: ${count} rows`);
    ctx.progress((batch / batches) * 100, `batch ${batch} of ${batches}`);
  }
  ctx.log(`done: ${rows} rows`);
  return { batches, rows };
}

/**
 * A call to a flaky upstream service: fails with probability `payload.failureRate` (default 0.3), so
 * the dashboard's charts have failures and the demo contact gets alert (and recovery) mail.
 */
export async function syncInventory(ctx: HandlerContext): Promise<{ items: number }> {
  const { failureRate = 0.3 } = (ctx.payload ?? {}) as { failureRate?: number };
  ctx.log('calling the inventory service');
  ctx.progress(20, 'connected');
  await pause(300 + Math.floor(Math.random() * 700), ctx.signal);
  if (Math.random() < failureRate) {
    ctx.log('the inventory service answered 503');
    throw new Error('inventory service unavailable (HTTP 503)');
  }
  const items = Math.floor(Math.random() * 50);
  ctx.progress(100, `${items} items updated`);
  return { items };
}
