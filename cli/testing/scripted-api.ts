/**
 * What the CLI's in-process tests share (cli/*.test.ts): a small HTTP server on loopback that records
 * each request and answers what the test scripts, and `clover(args)`, which runs the CLI against it
 * with captured output. The real API is exercised in test/cli/ (integration, through the local runtime).
 * It lives in a folder of its own so that cli/command-set.test.ts, which reads cli/*.ts for route ids,
 * reads only the commands.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { runClover } from '../clover';
import type { CliIo } from '../io';

export interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  traceparent: string | undefined;
  body: unknown;
}
export type Answer = { status: number; body?: unknown };

/** The requests the last `clover(...)` call sent, in order (a live binding: reset by each call). */
export let seen: Seen[] = [];
let answer: (req: Seen) => Answer = () => ({ status: 200, body: {} });
let endpoint = '';

/** Starts the scripted server before the file's first test and closes it after the last. */
export function useScriptedApi(): void {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c: Buffer) => {
      text += c.toString();
    });
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        auth: req.headers.authorization,
        traceparent: req.headers.traceparent as string | undefined,
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body === undefined ? '' : JSON.stringify(a.body));
    });
  });
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
}

/** Runs the CLI with `args` against the scripted server (answering with `respond` from now on). */
export async function clover(
  args: string[],
  respond?: (req: Seen) => Answer,
  env: Readonly<Record<string, string>> = {},
) {
  seen = [];
  if (respond) answer = respond;
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { CLOVER_API_URL: endpoint, CLOVER_TOKEN: 'tok', ...env },
    cwd: '/',
    sleep: async () => {},
  };
  const code = await runClover(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
