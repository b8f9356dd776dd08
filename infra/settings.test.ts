import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../core/errors';
import { readSettings } from './settings';

const GOOD = {
  stage: 'prod',
  alertFrom: 'Clover <clover@ops.example.org>',
  alarmEmail: 'oncall@example.org',
};
const read = (context: Record<string, unknown>) => readSettings((key) => context[key]);
/** The settings a bad context is refused for, each with its reason. */
const refused = (context: Record<string, unknown>): Record<string, string> => {
  try {
    read(context);
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    return Object.fromEntries(error.issues.map((i) => [i.field, i.reason]));
  }
  assert.fail(`accepted ${JSON.stringify(context)}`);
};

describe('stage settings', () => {
  test('GIVEN a production stage WHEN read THEN its prefix, protection and defaults follow', () => {
    const settings = read(GOOD);
    assert.equal(settings.prefix, 'clover-prod');
    assert.equal(settings.deletionProtection, true);
    assert.equal(settings.alerts, true);
    assert.equal(settings.api, true);
    assert.deepEqual(settings.vpc, { kind: 'none' });
    assert.equal(settings.zmqPort, 5555);
    assert.equal(settings.sesIdentity, 'create');
    assert.equal(settings.curveKeyVersion, 1);
    assert.ok(Object.isFrozen(settings));
  });

  test('GIVEN a dev stage WHEN read THEN deletion protection is off unless asked for, and prod can turn it off', () => {
    assert.equal(read({ ...GOOD, stage: 'dev' }).deletionProtection, false);
    assert.equal(read({ ...GOOD, stage: 'dev', deletionProtection: 'true' }).deletionProtection, true);
    assert.equal(read({ ...GOOD, deletionProtection: 'false' }).deletionProtection, false);
  });

  test('GIVEN alerts off WHEN read THEN no sender or alarm email is needed', () => {
    const settings = read({ stage: 'dev', alerts: 'off', api: 'off' });
    assert.equal(settings.alerts, false);
    assert.equal(settings.api, false);
    assert.equal(settings.alertFrom, undefined);
  });

  test('GIVEN a missing or invalid stage WHEN read THEN the error names stage', () => {
    assert.match(refused({ ...GOOD, stage: undefined }).stage!, /is required/);
    assert.match(refused({ ...GOOD, stage: '' }).stage!, /is required/);
    assert.match(refused({ ...GOOD, stage: 'Prod' }).stage!, /lowercase/);
    assert.match(refused({ ...GOOD, stage: 'a.b' }).stage!, /"a\.b"/);
    assert.match(refused({ ...GOOD, stage: 'x'.repeat(21) }).stage!, /1-20/);
  });

  test('GIVEN a missing or invalid email WHEN read THEN the error names alertFrom or alarmEmail', () => {
    assert.match(refused({ stage: 'prod' }).alertFrom!, /is required while alerts are on/);
    assert.match(refused({ stage: 'prod' }).alarmEmail!, /is required while alerts are on/);
    assert.match(
      refused({ ...GOOD, alertFrom: 'ops team' }).alertFrom!,
      /"ops team" is not an email address/,
    );
    assert.match(refused({ ...GOOD, alertFrom: 'a@b' }).alertFrom!, /not an email address/);
    assert.match(refused({ ...GOOD, alarmEmail: 'oncall' }).alarmEmail!, /"oncall" is not an email address/);
  });

  test('GIVEN a VPC setting WHEN read THEN new, none and an id with subnets are taken; anything else names vpc, vpcSubnets or agentCidr', () => {
    assert.deepEqual(read({ ...GOOD, vpc: 'new' }).vpc, { kind: 'new' });
    const imported = read({
      ...GOOD,
      vpc: 'vpc-0123456789abcdef0',
      vpcSubnets: 'subnet-0123456789abcdef0, subnet-89abcdef',
      agentCidr: '10.0.0.0/16',
    });
    assert.deepEqual(imported.vpc, {
      kind: 'import',
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-89abcdef'],
    });
    assert.match(refused({ ...GOOD, vpc: 'vpc-xyz' }).vpc!, /"vpc-xyz" is not "new", "none" or a VPC id/);
    assert.match(
      refused({ ...GOOD, vpc: 'vpc-0123456789abcdef0', agentCidr: '10.0.0.0/16' }).vpcSubnets!,
      /is required/,
    );
    assert.match(
      refused({ ...GOOD, vpc: 'vpc-0123456789abcdef0', vpcSubnets: 'subnet-1', agentCidr: '10.0.0.0/16' })
        .vpcSubnets!,
      /"subnet-1" is not a subnet id/,
    );
    assert.match(
      refused({ ...GOOD, vpc: 'vpc-0123456789abcdef0', vpcSubnets: 'subnet-89abcdef' }).agentCidr!,
      /is required with an imported vpc/,
    );
    assert.match(refused({ ...GOOD, vpc: 'new', agentCidr: '10.0.0.0/33' }).agentCidr!, /not an IPv4 CIDR/);
    assert.match(refused({ ...GOOD, vpcSubnets: 'subnet-89abcdef' }).vpcSubnets!, /only used with/);
  });

  test('GIVEN a custom domain WHEN read THEN it needs its us-east-1 certificate, and both are checked', () => {
    const arn = 'arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012';
    assert.deepEqual(read({ ...GOOD, domainName: 'clover.example.org', certificateArn: arn }).domain, {
      name: 'clover.example.org',
      certificateArn: arn,
    });
    assert.match(refused({ ...GOOD, domainName: 'clover.example.org' }).certificateArn!, /is required/);
    assert.match(
      refused({ ...GOOD, domainName: 'not a domain', certificateArn: arn }).domainName!,
      /not a lowercase domain/,
    );
    assert.match(
      refused({
        ...GOOD,
        domainName: 'clover.example.org',
        certificateArn: arn.replace('us-east-1', 'eu-west-1'),
      }).certificateArn!,
      /us-east-1/,
    );
  });

  test('GIVEN agents WHEN read THEN each worker gets its pool (default when left out); bad ids and repeats name agents', () => {
    assert.deepEqual(read({ ...GOOD, agents: 'host-1, gpu-1@gpu' }).agents, [
      { workerId: 'host-1', pool: 'default' },
      { workerId: 'gpu-1', pool: 'gpu' },
    ]);
    assert.match(refused({ ...GOOD, agents: 'ip-10.0.0.1' }).agents!, /"ip-10\.0\.0\.1" must be 1-32/);
    assert.match(refused({ ...GOOD, agents: 'a,a@gpu' }).agents!, /listed twice/);
    assert.match(refused({ ...GOOD, agents: 'a@g.p.u' }).agents!, /pool "g\.p\.u"/);
  });

  test('GIVEN several bad settings WHEN read THEN every one is named at once', () => {
    assert.deepEqual(
      Object.keys(refused({ stage: 'BAD', alertFrom: 'x', zmqPort: '70000', alerts: 'maybe' })).sort(),
      ['alarmEmail', 'alertFrom', 'alerts', 'stage', 'zmqPort'],
    );
  });
});
