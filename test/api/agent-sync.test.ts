/**
 * A real agent process syncs its declared jobs through the management API (CLOVER_API_URL with a
 * token): the jobs appear with the config's owner, the sync is in the audit log (so it went through
 * the API, not the table), and a declared id another owner holds is left alone and reported. And the
 * SigV4 signing an agent uses in AWS, checked on a loopback server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { sigV4Fetch } from '../../worker-agent/api-sync';
import { testHandlersConfig, useAgents } from '../harness/agent-process';
import { useApi } from './helpers';

const api = useApi();
const agents = useAgents();

test('an agent with CLOVER_API_URL syncs its declared jobs through the API; ownership holds', async () => {
  await api.ready();
  await api.as('admin').call('createJob', { body: { jobId: 'api-owned', handler: 'work' } });
  const { token } = await api.server.auth.issue('agent-host', 'admin');
  const agent = await agents.start({
    aws: api.aws,
    workerId: 'sync-1',
    env: { CLOVER_API_URL: `${api.server.url}/api`, CLOVER_API_TOKEN: token },
    config: [
      'pool: sync',
      'jobsOwner: reports',
      'heartbeatIntervalSeconds: 1',
      'leaseTtlSeconds: 6',
      'jobs:',
      '  - jobId: via-api',
      '    handler: work',
      '    schedule: { expression: "cron(0 2 * * ? *)", timezone: Europe/Paris }',
      '    target: { pool: sync }',
      '  - jobId: api-owned',
      '    handler: work',
      testHandlersConfig(),
    ].join('\n'),
  });
  await agent.waitForLog(/declared jobs synced/, 30_000);
  const job = await api.plane.jobs.get('via-api');
  assert.equal(job?.owner, 'agent:sync:reports');
  assert.equal((await api.plane.schedules.get('via-api'))?.timezone, 'Europe/Paris');
  assert.equal(
    (await api.plane.jobs.get('api-owned'))?.owner,
    undefined,
    'a job the API created is left alone',
  );
  const audit = await api.as('viewer').call('listAudit', { query: { entity: 'agent:agent:sync:reports' } });
  assert.equal(audit.items.length, 1);
  assert.equal(audit.items[0]?.actor.subject, 'agent-host');
  assert.deepEqual((audit.items[0]?.after as { added?: string[] } | undefined)?.added, ['via-api']);
  assert.match(agent.text, /declared job conflict: left as it is[^\n]*api-owned/);
});

test('SigV4: requests are signed for execute-api with the credential chain', async () => {
  let seen: IncomingHttpHeaders = {};
  const server = createServer((req, res) => {
    seen = req.headers;
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const saved = { ...process.env };
  process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  try {
    const port = (server.address() as AddressInfo).port;
    const response = await sigV4Fetch('eu-west-1')(`http://127.0.0.1:${port}/api/agents/x/declared-jobs`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"jobs":[]}',
    });
    assert.equal(response.status, 200);
    assert.match(
      String(seen.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
    );
    assert.ok(seen['x-amz-date']);
  } finally {
    process.env = saved;
    server.close();
  }
});
