import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { awsClients, CALL_TIMEOUT_MS } from '../../core/adapters/aws-clients';

assert.notEqual(CALL_TIMEOUT_MS.dynamodb, 300);

test('callTimeoutMs replaces the default deadline of a service (benches waiting on a loaded emulator)', async () => {
  // An endpoint that accepts and never answers: only the call's deadline ends the wait.
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    held.push(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const clients = awsClients({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    callTimeoutMs: { dynamodb: 300 },
  });
  try {
    await assert.rejects(clients.dynamodb.send(new ListTablesCommand({})), (error: Error) => {
      assert.equal(error.name, 'TimeoutError');
      // The SDK names the deadline it applied: the one given, not the default.
      assert.match(error.message, /configured 300 ms requestTimeout/);
      return true;
    });
  } finally {
    clients.destroy();
    for (const res of held) res.destroy();
    server.close();
  }
});
