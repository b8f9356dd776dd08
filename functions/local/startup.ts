/**
 * What `npm start` checks before and while it starts, each failure a StartError whose message is the
 * one line the user sees: what is wrong and how to fix it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A start that cannot succeed; `message` is complete advice on one line. */
export class StartError extends Error {
  override readonly name = 'StartError';
}

/** PORT as a TCP port (0: any free port). @default 8080 */
export function parsePort(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 8080;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new StartError(`PORT must be a whole number from 0 to 65535, not ${JSON.stringify(value)}`);
  }
  return port;
}

/** Explains a failure to listen on `port`, or undefined when `error` is something else. */
export function portProblem(error: unknown, port: number): StartError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new StartError(
      `port ${port} on 127.0.0.1 is already in use (another \`npm start\`?): stop what holds it (\`ss -ltnp 'sport = :${port}'\` shows it), or pick another port: PORT=${port === 65_535 ? 8081 : port + 1} npm start`,
    );
  }
  if (code === 'EACCES') {
    return new StartError(
      `port ${port} needs privileges this user lacks: pick a port above 1023, e.g. PORT=8080 npm start`,
    );
  }
  return undefined;
}

/** Resolves when `port` can be bound on 127.0.0.1 now (it is released again at once). */
export function checkPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(portProblem(error, port) ?? error));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Waits until every URL answers 2xx; a StartError naming the first that does not within `timeoutMs`. */
export async function waitUntilAnswering(urls: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (let last = ''; ; ) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await response.body?.cancel();
        if (response.ok) break;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new StartError(`${url} did not answer within ${timeoutMs / 1000} s (${last})`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The one line for a failed start: a StartError as it is; a failure to listen as the port advice;
 * anything else prefixed with the step that was running, so a raw SDK or system error still says where.
 */
export function describe(error: unknown, port?: number): string {
  if (error instanceof StartError) return error.message;
  const listen = port === undefined ? undefined : portProblem(error, port);
  if (listen) return listen.message;
  const message = error instanceof Error ? error.message : String(error);
  const root = rootCause(error);
  return `the local stack could not start: ${message}${root && !message.includes(root) ? ` (${root})` : ''}`;
}

/** The innermost `cause`'s message (a refused connection under an SDK error, say). */
function rootCause(error: unknown): string | undefined {
  let inner: unknown = error;
  for (let depth = 0; depth < 10 && inner instanceof Error && inner.cause !== undefined; depth += 1) {
    inner = inner.cause;
  }
  if (inner === error || !(inner instanceof Error)) return undefined;
  const code = (inner as NodeJS.ErrnoException).code;
  return code && !inner.message.includes(code) ? `${code}: ${inner.message}` : inner.message;
}

/**
 * AWS_ENDPOINT_URL names an emulator someone else runs: it must answer HTTP before anything is
 * provisioned on it, and if it does not, the advice is about that variable.
 */
export async function checkEndpointAnswers(endpoint: string, timeoutMs = 5_000): Promise<void> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
  } catch (error) {
    const inner = (error as { cause?: { code?: string; message?: string } }).cause;
    const cause = inner?.code ?? inner?.message ?? (error instanceof Error ? error.message : String(error));
    throw new StartError(
      `nothing answers at AWS_ENDPOINT_URL=${endpoint} (${cause}): start the emulator there, or unset AWS_ENDPOINT_URL so npm start runs LocalStack or moto itself`,
    );
  }
}

/** Past this, a parent's start time is not the launch of this `npm start` (a shell that ran it long ago). */
const MAX_LAUNCHER_LEAD_MS = 60_000;

/**
 * Milliseconds since `npm start` was launched, for its "ready in" line: from the start of the npm
 * process that ran the script (its start time in /proc, Linux), else from this process's own start
 * (`performance.now()` counts from it). Either way npm, Node and loading the modules are included,
 * not only the steps after them.
 */
export function launchedAgoMs(): number {
  const own = performance.now();
  if (!process.env.npm_lifecycle_event) return own;
  try {
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    // Field 22, starttime in clock ticks since boot; counted after the ")" that ends field 2 (the
    // command name, which may hold spaces). Linux's USER_HZ is 100 ticks a second.
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
    const ago = uptimeMs - startTicks * 10;
    return Number.isFinite(ago) && ago >= own && ago - own < MAX_LAUNCHER_LEAD_MS ? ago : own;
  } catch {
    return own;
  }
}
