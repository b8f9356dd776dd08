/**
 * Invariant 7 with a real agent process on the emulator (docs/security.md, "What a handler sees"): the
 * agent runs with AWS credentials, an API token and a CURVE secret key in its environment; a command
 * job and a module job print the environment they were given into their run logs. Neither log holds
 * any of those secrets; both hold the job's declared variable, the name the config passes through,
 * the base (PATH) and the run's CLOVER_* context.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from '../../core/adapters/control-plane';
import type { Run } from '../../core/model';
import { useEmulator } from '../harness';
import { TEST_HANDLERS, useAgents } from '../harness/agent-process';
import { waitFor } from '../harness/wait';

const aws = useEmulator();
const agents = useAgents();

const SECRETS = {
  CLOVER_API_TOKEN: 'eyJhbGciOiJIUzI1NiJ9.admin-token-that-must-stay.sig',
  CLOVER_AGENT_ZMQ_SECRET_KEY: 'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6',
  CLOVER_TEST_NOT_PASSED: 'agent-only-value',
};

test('a command job and a module job see the built environment: no AWS credentials, API token or CURVE key; the job-declared and passed-through variables present', async () => {
  await aws.provisioned();
  const plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
  const agent = await agents.start({
    aws,
    workerId: 'env-1',
    env: { ...SECRETS, CLOVER_TEST_PASSED: 'passed-on-purpose' },
    config: [
      'pool: env',
      'heartbeatIntervalSeconds: 2',
      'leaseTtlSeconds: 20',
      'handlerEnv:',
      '  passThrough: [CLOVER_TEST_PASSED]',
      'handlers:',
      '  show-command:',
      `    command: ${JSON.stringify(['/bin/sh', '-c', 'env | sort'])}`,
      '  show-module:',
      `    module: ${TEST_HANDLERS}`,
      '    export: printEnv',
    ].join('\n'),
  });
  await agent.waitForLog(/agent started/, 60_000);
  const awsSecrets = [aws.emulator.credentials.accessKeyId, aws.emulator.credentials.secretAccessKey];

  for (const handler of ['show-command', 'show-module']) {
    const jobId = `env-${handler}`;
    await plane.jobService.define({
      jobId,
      handler,
      target: { pool: 'env' },
      env: { JOB_DECLARED: 'declared-by-the-job' },
    });
    const fired = await plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
    assert.equal(fired.kind, 'dispatched');
    const runId = fired.kind === 'dispatched' ? (fired.runs[0]?.runId ?? '') : '';
    const run = (await waitFor(
      () => plane.runs.get(runId),
      (r) => r?.status === 'SUCCEEDED' || r?.status === 'FAILED',
      `${handler} to finish`,
      { timeoutMs: 90_000 },
    )) as Run;
    assert.equal(run.status, 'SUCCEEDED', JSON.stringify(run.error));
    const env = new Map(
      (run.log ?? []).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const names = [...env.keys()];
    const text = (run.log ?? []).join('\n');
    assert.ok(names.length > 5, `${handler}: printed its environment:\n${text}`);
    for (const name of names) {
      assert.ok(!name.startsWith('AWS_'), `${handler}: no AWS_* variable (${name})`);
    }
    for (const secret of [...Object.values(SECRETS), ...awsSecrets]) {
      assert.ok(!text.includes(secret), `${handler}: the log holds no secret (${secret.slice(0, 8)}…)`);
    }
    assert.equal(env.get('JOB_DECLARED'), 'declared-by-the-job', `${handler}: the job's own variable`);
    assert.equal(env.get('CLOVER_TEST_PASSED'), 'passed-on-purpose', `${handler}: the passed-through name`);
    assert.equal(env.get('CLOVER_RUN_ID'), runId, `${handler}: the run's context`);
    assert.ok(env.get('PATH'), `${handler}: the base`);
  }
});
