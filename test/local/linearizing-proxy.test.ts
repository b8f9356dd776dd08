/**
 * The local emulator path never wedges (issue 9): the proxy that serializes DynamoDB requests to moto
 * drops a client that died while queued, and gives up on a request moto never answers at its
 * deadline, answering everyone behind it.
 *
 * Topology: test clients → the proxy under test → a "black hole" HTTP hop that swallows requests
 * carrying `x-test-black-hole` and passes everything else → the real emulator (moto).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { jsonLogger } from '../../core/log';
import { type LinearizingProxy, startLinearizingProxy } from '../../infra/local/linearizing-proxy';
import { useEmulator } from '../harness';

const aws = useEmulator();
const DEADLINE_MS = 3_000;
const logLines: Record<string, unknown>[] = [];
let blackHole: Server | undefined;
let proxy: LinearizingProxy | undefined;
const swallowed: IncomingMessage[] = [];

/** Builds the chain on first use (the emulator exists only inside tests). */
async function setUp(): Promise<void> {
  if (proxy !== undefined) return;
  const upstream = new URL(aws.emulator.endpoint);
  blackHole = createServer((req, res) => {
    if (req.headers['x-test-black-hole'] !== undefined) {
      swallowed.push(req);
      return;
    }
    const outgoing = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(outgoing);
  });
  await new Promise<void>((resolve) => blackHole?.listen(0, '127.0.0.1', resolve));
  const { port } = blackHole.address() as AddressInfo;
  proxy = await startLinearizingProxy(`http://127.0.0.1:${port}`, {
    deadlineMs: DEADLINE_MS,
    log: jsonLogger({ write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) }),
  });
}

after(async () => {
  await proxy?.close();
  blackHole?.closeAllConnections();
  await new Promise((resolve) => blackHole?.close(resolve));
});

/** One DynamoDB ListTables through the proxy, by raw HTTP (the proxy only reads the headers). */
function listTables(extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const endpoint = new URL(proxy?.endpoint ?? '');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: endpoint.hostname,
        port: endpoint.port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization:
            'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          ...extraHeaders,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a request moto never answers gets a 504 at the deadline; the requests behind it are answered', async () => {
  await setUp();
  const stuck = listTables({ 'x-test-black-hole': '1' });
  await until('the black hole holds the turn', () => swallowed.length === 1);
  const behind = [listTables(), listTables(), listTables()];
  await until('three requests queued behind it', () => proxy?.waiting === 3);
  const answered = await Promise.all(behind);
  for (const answer of answered) assert.equal(answer.status, 200, answer.body);
  assert.match(answered[0]?.body ?? '', /TableNames/);
  const gaveUp = await stuck;
  assert.equal(gaveUp.status, 504);
  assert.match(gaveUp.body, /did not answer within 3000 ms/);
  assert.equal(
    logLines.filter((l) => String(l.message).includes('did not answer a DynamoDB request in time')).length,
    1,
    'logged once',
  );
});

test('a client killed while its request waits in the queue: every later request is answered', async () => {
  await setUp();
  swallowed.length = 0;
  const stuck = listTables({ 'x-test-black-hole': '1' });
  await until('the black hole holds the turn', () => swallowed.length === 1);
  // Another process queues a request behind it, then dies by SIGKILL while it waits.
  const script = `
    const req = require('node:http').request(${JSON.stringify(proxy?.endpoint)}, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables', 'content-type': 'application/x-amz-json-1.0' },
    });
    req.on('error', () => {});
    req.end('{}', () => console.log('sent'));
    setInterval(() => {}, 1000);`;
  const client = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await until('the other client queued its request', () => proxy?.waiting === 1);
  const exited = new Promise((resolve) => client.once('exit', resolve));
  client.kill('SIGKILL');
  await exited;
  await until('the dead client left the queue', () => proxy?.waiting === 0);
  assert.ok(
    logLines.some((l) => String(l.message).includes('client went away while its DynamoDB request waited')),
  );

  const later = await Promise.all([listTables(), listTables()]);
  for (const answer of later) assert.equal(answer.status, 200, answer.body);
  assert.equal((await stuck).status, 504);
  // And the path stays healthy afterwards: a plain request goes straight through.
  assert.equal((await listTables()).status, 200);
});

test('a client that goes away during its turn frees the turn at once', async () => {
  await setUp();
  swallowed.length = 0;
  const deadlines = () =>
    logLines.filter((l) => String(l.message).includes('did not answer a DynamoDB request in time')).length;
  const before = deadlines();
  const endpoint = new URL(proxy?.endpoint ?? '');
  const gone = request({
    host: endpoint.hostname,
    port: endpoint.port,
    method: 'POST',
    path: '/',
    headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables', 'x-test-black-hole': '1' },
  });
  gone.on('error', () => {});
  gone.end('{}');
  await until('the black hole holds the turn', () => swallowed.length === 1);
  const behind = listTables();
  await until('one request queued behind it', () => proxy?.waiting === 1);
  gone.destroy();
  assert.equal((await behind).status, 200);
  assert.equal(deadlines(), before, 'answered without waiting for the deadline');
  assert.ok(logLines.some((l) => String(l.message).includes('client went away during its DynamoDB request')));
});
