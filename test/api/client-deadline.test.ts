import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ApiTimeoutError, CloverApiClient } from '../../core/api/client';
import { sigV4Fetch } from '../../worker-agent/api-sync';
import { useSilentEndpoint } from '../harness/loopback';

// An API endpoint that accepts connections and never answers.
const silent = useSilentEndpoint();
before(() => {
  // SigV4 signs with the default credential chain; any key signs a request nobody checks.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
});

// A hang guard only: a client without a deadline hangs here and fails by this bound, naming the test.
const HANG_GUARD = { timeout: 30_000 };
const DEADLINE_MS = 400;

const clients: Record<string, () => CloverApiClient> = {
  'bearer token (CLI, agent with CLOVER_API_TOKEN)': () =>
    new CloverApiClient({ baseUrl: silent.url, token: 'token', timeoutMs: DEADLINE_MS }),
  'SigV4 (agent with CLOVER_API_AUTH=iam)': () =>
    new CloverApiClient({ baseUrl: silent.url, fetch: sigV4Fetch('us-east-1'), timeoutMs: DEADLINE_MS }),
};

for (const [name, make] of Object.entries(clients)) {
  test(
    `${name}: an API that never answers fails the call at its deadline with one error line`,
    HANG_GUARD,
    async () => {
      await assert.rejects(
        make().call('syncDeclaredJobs', { params: { owner: 'fleet' }, body: { jobs: [] } }),
        (error: Error) => {
          assert.ok(error instanceof ApiTimeoutError, String(error));
          assert.equal(
            error.message,
            `no answer from the Clover API within ${DEADLINE_MS} ms (${silent.url}/api/agents/fleet/declared-jobs)`,
          );
          return true;
        },
      );
    },
  );
}
