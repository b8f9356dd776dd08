/**
 * What holds for the whole stage in every configuration: each function's role, log group and tracing, IAM
 * without wildcards, the resource types there are, and cdk-nag's AWS Solutions checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { CONFIGS, cloverFunctions } from './all-stages';
import { onlyResource, ref, resourcesOf, roleStatements, stack, template } from './base-stage';
import { full } from './full-stage';
import { actionsOf, type Resource, render, resourcesIn, type Statement } from './template-reading';

describe('every function', () => {
  test('GIVEN the stack WHEN synthesized THEN there are the dispatcher, monitor, notifier and key generator, each with its own role and log group', () => {
    // The base stage has no API or console, so no CDK helper Lambda either.
    template.resourceCountIs('AWS::Lambda::Function', 4);
    const functions = cloverFunctions(CONFIGS.base);
    const roles = new Set(functions.map((f) => JSON.stringify(ref(f.role.roleArn))));
    assert.equal(roles.size, 4);
    for (const f of functions) {
      const resource = onlyResource('AWS::Lambda::Function', { FunctionName: f.functionName });
      assert.deepEqual(
        (resource.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup,
        ref(f.logGroup.logGroupName),
      );
      assert.equal((resource.Properties.LoggingConfig as { LogFormat: string }).LogFormat, 'JSON');
      // The dispatcher, invoked once per fire, keeps none of Lambda's START/REPORT lines (docs/capacity.md).
      assert.equal(
        (resource.Properties.LoggingConfig as { SystemLogLevel?: string }).SystemLogLevel,
        f === stack.dispatcher ? 'WARN' : undefined,
      );
      const role = ref(f.role.roleArn) as { 'Fn::GetAtt': [string, string] };
      assert.equal(
        resourcesOf('AWS::IAM::Role')[role['Fn::GetAtt'][0]]!.Properties.ManagedPolicyArns,
        undefined,
      );
    }
  });

  test('GIVEN every function in every configuration WHEN synthesized THEN X-Ray active tracing is on and Powertools samples debug logs', () => {
    for (const c of Object.values(CONFIGS)) {
      for (const f of cloverFunctions(c)) {
        const resource = c.template.findResources('AWS::Lambda::Function', {
          Properties: { FunctionName: f.functionName },
        }) as Record<string, Resource>;
        const [props] = Object.values(resource).map((r) => r.Properties);
        assert.ok(props, f.functionName);
        assert.deepEqual(props.TracingConfig, { Mode: 'Active' }, f.functionName);
        const env = (props.Environment as { Variables: Record<string, string> }).Variables;
        assert.equal(env.POWERTOOLS_LOGGER_SAMPLE_RATE, '0.01', f.functionName);
        const xray = roleStatements(f.role, c).filter((st) =>
          actionsOf(st).some((a) => a.startsWith('xray:')),
        );
        assert.deepEqual(
          xray.map((st) => actionsOf(st).sort()),
          [['xray:PutTelemetryRecords', 'xray:PutTraceSegments']],
          `${f.functionName}: uploads its trace segments, nothing else of X-Ray`,
        );
      }
    }
  });

  test('GIVEN every function role in every configuration WHEN synthesized THEN no statement names every resource, except the X-Ray uploads that have no resource', () => {
    const xrayUploads = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
    for (const c of Object.values(CONFIGS)) {
      for (const f of cloverFunctions(c)) {
        for (const statement of roleStatements(f.role, c)) {
          if (actionsOf(statement).every((action) => xrayUploads.has(action))) continue;
          assert.ok(!resourcesIn(statement).includes('*'), `${f.functionName} ${statement.Sid}`);
          assert.ok(
            !resourcesIn(statement)
              .map(render)
              .some((r) => /index\/\*/.test(r)),
            `${f.functionName} ${statement.Sid}`,
          );
        }
      }
    }
  });

  test("GIVEN every IAM statement of every configuration WHEN synthesized THEN no action is a wildcard, except in CDK's console deployment helper", () => {
    const offenders: string[] = [];
    for (const [name, c] of Object.entries(CONFIGS)) {
      const policies = {
        ...c.template.findResources('AWS::IAM::Policy'),
        ...c.template.findResources('AWS::IAM::ManagedPolicy'),
      } as Record<string, Resource>;
      let statements = 0;
      for (const [id, policy] of Object.entries(policies)) {
        for (const statement of (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement) {
          statements += 1;
          for (const action of actionsOf(statement)) {
            if (action.includes('*') && !id.startsWith('CustomCDKBucketDeployment')) {
              offenders.push(`${name} ${id} ${statement.Sid ?? ''}: ${action}`);
            }
          }
        }
      }
      assert.ok(statements > 20, `${name}: ${statements} statements`);
    }
    assert.deepEqual(offenders, []);
  });

  test('GIVEN the dispatcher and monitor WHEN synthesized THEN each has an on-failure destination queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(stack.dispatcher.fn.functionName),
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 600,
      DestinationConfig: { OnFailure: { Destination: ref(stack.queues.queue('fires-dlq').queueArn) } },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(stack.monitor.fn.functionName),
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: ref(stack.queues.queue('monitor-failures').queueArn) } },
    });
  });
});

describe('every resource', () => {
  test('GIVEN the full stage WHEN synthesized THEN it holds exactly the resource types asserted in this file', () => {
    const types = new Set(
      Object.values(full.template.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type),
    );
    // A new kind of resource must be added here, and asserted above, on purpose.
    assert.deepEqual([...types].sort(), [
      'AWS::ApiGatewayV2::Api',
      'AWS::ApiGatewayV2::Authorizer',
      'AWS::ApiGatewayV2::Integration',
      'AWS::ApiGatewayV2::Route',
      'AWS::ApiGatewayV2::Stage',
      'AWS::CloudFront::Distribution',
      'AWS::CloudFront::Function',
      'AWS::CloudFront::OriginAccessControl',
      'AWS::CloudFront::ResponseHeadersPolicy',
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::Dashboard',
      'AWS::Cognito::UserPool',
      'AWS::Cognito::UserPoolClient',
      'AWS::Cognito::UserPoolDomain',
      'AWS::Cognito::UserPoolGroup',
      'AWS::DynamoDB::Table',
      'AWS::EC2::EIP',
      'AWS::EC2::FlowLog',
      'AWS::EC2::InternetGateway',
      'AWS::EC2::NatGateway',
      'AWS::EC2::Route',
      'AWS::EC2::RouteTable',
      'AWS::EC2::SecurityGroup',
      'AWS::EC2::Subnet',
      'AWS::EC2::SubnetRouteTableAssociation',
      'AWS::EC2::VPC',
      'AWS::EC2::VPCEndpoint',
      'AWS::EC2::VPCGatewayAttachment',
      'AWS::Events::Rule',
      'AWS::IAM::ManagedPolicy',
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::EventSourceMapping',
      'AWS::Lambda::Function',
      'AWS::Lambda::LayerVersion',
      'AWS::Lambda::Permission',
      'AWS::Logs::LogGroup',
      'AWS::S3::Bucket',
      'AWS::S3::BucketPolicy',
      'AWS::SNS::Subscription',
      'AWS::SNS::Topic',
      'AWS::SNS::TopicPolicy',
      'AWS::SQS::Queue',
      'AWS::SQS::QueuePolicy',
      'AWS::SSM::Parameter',
      'AWS::Scheduler::Schedule',
      'AWS::Scheduler::ScheduleGroup',
      'AWS::SecretsManager::Secret',
      'Custom::CDKBucketDeployment',
      'Custom::CloverCurveKeys',
      'Custom::S3AutoDeleteObjects',
      'Custom::VpcRestrictDefaultSG',
    ]);
  });

  test("GIVEN the full stage WHEN synthesized THEN every Lambda outside Clover's own is one of CDK's deploy-time helpers", () => {
    const clover = new Set(
      cloverFunctions(full).map((f) => full.stack.getLogicalId(f.fn.node.defaultChild as CfnFunction)),
    );
    const others = Object.entries(full.template.findResources('AWS::Lambda::Function'))
      .filter(([id]) => !clover.has(id))
      .map(([id]) => id);
    const helpers = [
      'CustomCDKBucketDeployment',
      'CustomS3AutoDeleteObjectsCustomResourceProviderHandler',
      'CustomVpcRestrictDefaultSGCustomResourceProviderHandler',
    ];
    assert.equal(others.length, helpers.length, others.join(', '));
    for (const helper of helpers)
      assert.ok(
        others.some((id) => id.startsWith(helper)),
        helper,
      );
    // The providers' own alarms would fire only during a deploy, which CloudFormation reports itself.
  });
});

describe('cdk-nag', () => {
  for (const [name, c] of Object.entries(CONFIGS)) {
    test(`GIVEN the ${name} stage WHEN the AWS Solutions checks run THEN nothing is reported`, () => {
      const report = new AwsSolutionsChecks(c.stack).validateScope(c.stack);
      assert.deepEqual(
        report.violations.map(
          (v) =>
            `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
        ),
        [],
      );
    });
  }

  test('GIVEN every acknowledged finding WHEN read back THEN it carries a written reason', () => {
    const acknowledged: Array<[string, string]> = [];
    const walk = (node: IConstruct) => {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, value] of Object.entries(entry.data as Record<string, unknown>)) {
          const reason = typeof value === 'string' ? value : (value as { reason?: string }).reason;
          acknowledged.push([id, reason ?? '']);
        }
      }
      for (const child of node.node.children) walk(child);
    };
    for (const c of Object.values(CONFIGS)) walk(c.stack);
    assert.ok(acknowledged.length > 10);
    for (const [id, reason] of acknowledged)
      assert.ok(reason.length >= 40, `${id}: ${JSON.stringify(reason)}`);
  });
});
