/**
 * ZeroMQ's parts: the CURVE key pair and where the dispatcher sits, without a VPC, in a new one or an imported one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { VPC_ACCESS_POLICY } from '../constructs/node-function';
import { physicalName } from '../resources';
import { CONFIGS, type Config } from './all-stages';
import { onlyResource, ref, roleStatements, stack, template } from './base-stage';
import { full } from './full-stage';
import { PREFIX } from './synth';
import { actionsOf, type Resource, render, resourcesIn } from './template-reading';
import { throwaway } from './throwaway-stage';

describe('CURVE keys and the VPC', () => {
  test('GIVEN the stack WHEN synthesized THEN the key pair is a secret filled by a custom resource, and only the public key is a parameter', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: `${PREFIX}/dispatcher-curve-keys`,
    });
    const keys = onlyResource('Custom::CloverCurveKeys');
    assert.deepEqual(keys.Properties.ServiceToken, ref(stack.curveKeys.generator.fn.functionArn));
    assert.deepEqual(keys.Properties.SecretArn, ref(stack.curveKeys.secret.secretArn));
    assert.equal(keys.Properties.Version, '1');
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `/${PREFIX}/dispatcher-curve-public-key`,
      Value: { 'Fn::GetAtt': [Match.anyValue(), 'PublicKey'] },
    });
    const generator = roleStatements(stack.curveKeys.generator.role).filter(
      (st) => st.Sid !== undefined && !st.Sid.startsWith('Logs'),
    );
    const secrets = generator.filter((st) => actionsOf(st).some((a) => a.startsWith('secretsmanager:')));
    assert.deepEqual(secrets.flatMap(actionsOf).sort(), [
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
    ]);
    assert.deepEqual(secrets.flatMap(resourcesIn), [ref(stack.curveKeys.secret.secretArn)]);
  });

  test('GIVEN any configuration WHEN synthesized THEN no Lambda environment holds a CURVE key, only the secret ARN with a VPC', () => {
    for (const c of Object.values(CONFIGS)) {
      for (const fn of Object.values(c.template.findResources('AWS::Lambda::Function'))) {
        const vars = Object.keys(
          ((fn.Properties.Environment ?? {}) as { Variables?: object }).Variables ?? {},
        );
        assert.ok(!vars.includes('CLOVER_DISPATCHER_ZMQ_SECRET_KEY'), JSON.stringify(vars));
        assert.ok(!vars.includes('CLOVER_DISPATCHER_ZMQ_PUBLIC_KEY'), JSON.stringify(vars));
      }
    }
    const env = (c: Config) =>
      (
        Object.values(
          c.template.findResources('AWS::Lambda::Function', {
            Properties: { FunctionName: physicalName(PREFIX, 'dispatcher') },
          }),
        )[0]!.Properties.Environment as { Variables: Record<string, unknown> }
      ).Variables;
    assert.equal(env(CONFIGS.base).CLOVER_DISPATCHER_ZMQ_SECRET_ARN, undefined);
    assert.deepEqual(
      env(full).CLOVER_DISPATCHER_ZMQ_SECRET_ARN,
      full.stack.resolve(full.stack.curveKeys.secret.secretArn),
    );
    const read = roleStatements(full.stack.dispatcher.role, full).find((st) => st.Sid === 'ReadCurveKeys');
    assert.deepEqual(read?.Action, 'secretsmanager:GetSecretValue');
    assert.ok(!roleStatements(stack.dispatcher.role).some((st) => st.Sid === 'ReadCurveKeys'));
  });

  test('GIVEN no VPC WHEN synthesized THEN the dispatcher runs outside any VPC and synth says ZeroMQ jobs go over SQS', () => {
    const fn = onlyResource('AWS::Lambda::Function', { FunctionName: physicalName(PREFIX, 'dispatcher') });
    assert.equal(fn.Properties.VpcConfig, undefined);
    Annotations.fromStack(stack).hasWarning(
      '/Clover',
      Match.stringLikeRegexp('delivers delivery: ZMQ jobs over SQS'),
    );
    assert.equal(
      Annotations.fromStack(full.stack).findWarning('*', Match.stringLikeRegexp('ZMQ jobs over SQS')).length,
      0,
    );
  });

  test("GIVEN vpc new WHEN synthesized THEN the dispatcher sits in its private subnets with a group that only reaches HTTPS and the agents' ZeroMQ port", () => {
    full.template.resourceCountIs('AWS::EC2::VPC', 1);
    full.template.resourceCountIs('AWS::EC2::FlowLog', 1);
    full.template.resourceCountIs('AWS::EC2::NatGateway', 1);
    const group = Object.values(
      full.template.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: Match.stringLikeRegexp('Clover dispatcher') },
      }),
    )[0]!;
    assert.equal(group.Properties.SecurityGroupIngress, undefined);
    const egress = group.Properties.SecurityGroupEgress as Array<Record<string, unknown>>;
    assert.deepEqual(
      egress.map((e) => [e.FromPort, e.ToPort, typeof e.CidrIp === 'string' ? e.CidrIp : 'vpc']).sort(),
      [
        [443, 443, '0.0.0.0/0'],
        [5555, 5555, 'vpc'],
      ],
    );
    const fn = Object.values(
      full.template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: physicalName(PREFIX, 'dispatcher') },
      }),
    )[0]!;
    const vpcConfig = fn.Properties.VpcConfig as { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
    assert.equal(vpcConfig.SubnetIds.length, 2);
    assert.equal(vpcConfig.SecurityGroupIds.length, 1);
  });

  test('GIVEN vpc new or an imported VPC WHEN synthesized THEN every function with a VpcConfig has the VPC access policy on its role, and no other does', () => {
    const policy = `arn:<AWS::Partition>:iam::aws:policy/${VPC_ACCESS_POLICY}`;
    for (const [name, c] of [
      ['vpc new', full],
      ['imported VPC', throwaway],
      ['no VPC', { stack, template }],
    ] as const) {
      const roles = c.template.findResources('AWS::IAM::Role') as Record<string, Resource>;
      const functions = Object.entries(
        c.template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
      );
      const inVpc = functions.filter(([, fn]) => fn.Properties.VpcConfig !== undefined);
      assert.equal(inVpc.length, name === 'no VPC' ? 0 : 1, `${name}: functions in the VPC`);
      for (const [id, fn] of functions) {
        const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        const attached = ((roles[roleId]?.Properties.ManagedPolicyArns ?? []) as unknown[]).map(render);
        assert.equal(
          attached.includes(policy),
          fn.Properties.VpcConfig !== undefined,
          `${name}: ${String(fn.Properties.FunctionName ?? id)} has VpcConfig ${fn.Properties.VpcConfig !== undefined} but its role's managed policies are ${JSON.stringify(attached)}`,
        );
      }
    }
  });

  test('GIVEN an imported VPC WHEN synthesized THEN the dispatcher uses its subnets and reaches the agentCidr', () => {
    const fn = Object.values(
      throwaway.template.findResources('AWS::Lambda::Function', {
        Properties: { FunctionName: physicalName(PREFIX, 'dispatcher') },
      }),
    )[0]!;
    assert.deepEqual((fn.Properties.VpcConfig as { SubnetIds: unknown[] }).SubnetIds, [
      'subnet-0123456789abcdef0',
    ]);
    throwaway.template.resourceCountIs('AWS::EC2::VPC', 0);
    throwaway.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0123456789abcdef0',
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 5555 })]),
    });
  });
});
