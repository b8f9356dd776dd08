import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The real `npx cdk synth` of infra/app.ts, offline: CLOVER_SYNTH_NO_BUNDLING=1 skips building the
 * Lambda bundles (which fetch snappy's linux-arm64 binary from the npm registry), everything else is
 * the app as `cdk deploy` runs it, cdk-nag included.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'clover-synth-'));
after(() => rmSync(out, { recursive: true, force: true }));

function cdkSynth(dir: string, context: Record<string, string>) {
  const args = [
    'cdk',
    'synth',
    '--quiet',
    '--output',
    dir,
    ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  return spawnSync('npx', args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      CLOVER_SYNTH_NO_BUNDLING: '1',
      CDK_DISABLE_VERSION_CHECK: '1',
      AWS_REGION: 'eu-west-1',
    },
    timeout: 300_000,
  });
}

describe('cdk synth', () => {
  test('GIVEN a valid stage WHEN npx cdk synth runs THEN it writes the template, cdk-nag passing', () => {
    const dir = join(out, 'good');
    const result = cdkSynth(dir, {
      stage: 'ci',
      alertFrom: 'Clover <clover@ops.example.org>',
      alarmEmail: 'oncall@example.org',
    });
    assert.equal(result.status, 0, result.stderr);
    const template = JSON.parse(readFileSync(join(dir, 'clover-ci.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const type of [
      'AWS::DynamoDB::Table',
      'AWS::Lambda::Function',
      'AWS::CloudWatch::Alarm',
      'Custom::CloverCurveKeys',
    ]) {
      assert.ok(types.has(type), type);
    }
    assert.match(result.stderr, /delivers delivery: ZMQ jobs over SQS/);
  });

  test('GIVEN a missing stage and a bad email WHEN npx cdk synth runs THEN it fails naming both and synthesizes nothing', () => {
    const dir = join(out, 'bad');
    const result = cdkSynth(dir, {
      alertFrom: 'ops team',
      alarmEmail: 'oncall@example.org',
      vpc: 'vpc-nope',
    });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /stage: is required/);
    assert.match(result.stderr, /alertFrom: "ops team" is not an email address/);
    assert.match(result.stderr, /vpc: "vpc-nope" is not "new", "none" or a VPC id/);
    const written = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.template.json')) : [];
    assert.deepEqual(written, []);
  });
});
