/**
 * The management API (HTTP API, Cognito, its role) and the console (bucket, CloudFront, config.json, outputs).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { physicalName, scheduleGroupName } from '../resources';
import { roleStatements, stack, template } from './base-stage';
import { full } from './full-stage';
import { PREFIX } from './synth';
import { actionsOf, onlyResourceIn, render, resourcesIn, type Statement } from './template-reading';

describe('API and console', () => {
  const api = full.stack.api!;
  const fref = (v: string) => full.stack.resolve(v);

  test('GIVEN the API handler WHEN synthesized THEN an HTTP API throttles and routes to the API Lambda with JWT, IAM and open routes', () => {
    full.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    const routes = Object.values(full.template.findResources('AWS::ApiGatewayV2::Route')).map((r) => [
      r.Properties.RouteKey,
      r.Properties.AuthorizationType,
    ]);
    assert.deepEqual(routes.sort(), [
      ['ANY /api/{proxy+}', 'JWT'],
      ['GET /api/health', 'NONE'],
      ['GET /api/openapi.json', 'NONE'],
      ['PUT /api/agents/{owner}/declared-jobs', 'AWS_IAM'],
    ]);
    full.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Audience: [fref(api.client.userPoolClientId)], Issuer: Match.anyValue() },
    });
  });

  test('GIVEN the API WHEN synthesized THEN Cognito has the admin, operator and viewer groups, MFA, no self sign-up, and a hosted UI domain', () => {
    const groups = Object.values(full.template.findResources('AWS::Cognito::UserPoolGroup')).map(
      (g) => g.Properties.GroupName,
    );
    assert.deepEqual(groups.sort(), ['admin', 'operator', 'viewer']);
    full.template.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    });
    full.template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(PREFIX, 'api'),
      Environment: {
        Variables: Match.objectLike({
          COGNITO_USER_POOL_ID: fref(api.userPool.userPoolId),
          COGNITO_CLIENT_ID: fref(api.client.userPoolClientId),
        }),
      },
    });
    full.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      CallbackURLs: ['https://clover.example.org/auth/callback'],
    });
  });

  test('GIVEN the API role WHEN synthesized THEN it cannot send mail, and writes schedules only in the stage group', () => {
    const statements = roleStatements(api.fn.role, full);
    assert.ok(!statements.some((st) => actionsOf(st).some((a) => a.startsWith('ses:'))));
    const schedules = statements.find((st) => st.Sid === 'ManageSchedules')!;
    assert.deepEqual(resourcesIn(schedules).map(render), [
      `arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${scheduleGroupName(PREFIX)}/*`,
    ]);
    const pass = statements.find((st) => st.Sid === 'PassSchedulerRole')!;
    assert.deepEqual(pass.Condition, { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    const services = new Set(statements.flatMap(actionsOf).map((a) => a.split(':')[0]));
    assert.deepEqual([...services].sort(), ['dynamodb', 'iam', 'lambda', 'logs', 'scheduler', 'sqs', 'xray']);
    const wake = statements.find((st) => st.Sid === 'WakeMonitor')!;
    assert.deepEqual(
      actionsOf(wake),
      ['lambda:InvokeFunction'],
      'manual triggers wake the monitor, nothing else',
    );
    assert.deepEqual(resourcesIn(wake).map(render), [
      `arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:${physicalName(PREFIX, 'monitor')}`,
    ]);
  });

  test('GIVEN the console WHEN synthesized THEN a private bucket is read by CloudFront through OAC, HTTPS only, with no blanket error fallback', () => {
    full.template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    full.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    full.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['clover.example.org'],
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        CustomErrorResponses: Match.absent(),
        ViewerCertificate: Match.objectLike({ MinimumProtocolVersion: 'TLSv1.2_2021' }),
      }),
    });
    // S3 answers a missing object 404 (not 403) only to a reader that may list the bucket.
    const bucketPolicy = onlyResourceIn(full.template, 'AWS::S3::BucketPolicy');
    const cloudFront = (
      bucketPolicy.Properties.PolicyDocument as { Statement: Statement[] }
    ).Statement.filter((st) => JSON.stringify(st).includes('cloudfront.amazonaws.com'));
    assert.deepEqual(cloudFront.flatMap(actionsOf).sort(), ['s3:GetObject', 's3:ListBucket']);
  });

  test('GIVEN the console WHEN synthesized THEN every answer carries a Content-Security-Policy fit for the console, and the usual security headers', () => {
    const policy = onlyResourceIn(full.template, 'AWS::CloudFront::ResponseHeadersPolicy');
    const config = policy.Properties.ResponseHeadersPolicyConfig as {
      SecurityHeadersConfig: Record<string, Record<string, unknown>>;
    };
    const headers = config.SecurityHeadersConfig;
    const csp = render(headers.ContentSecurityPolicy!.ContentSecurityPolicy).replace(/<AWS::(\w+)>/g, '$1');
    const directives = Object.fromEntries(
      csp.split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)] as const),
    );
    assert.deepEqual(directives['script-src'], ["'self'"], 'no inline or foreign scripts');
    assert.deepEqual(directives['style-src'], ["'self'", "'unsafe-inline'"], "Recharts' inline styles");
    assert.deepEqual(directives['connect-src'], [
      "'self'",
      'https://*.execute-api.Region.URLSuffix',
      'https://cognito-idp.Region.URLSuffix',
      'https://*.auth.Region.amazoncognito.com',
    ]);
    assert.deepEqual(directives['frame-ancestors'], ["'none'"]);
    assert.deepEqual(directives['object-src'], ["'none'"]);
    assert.equal(headers.FrameOptions?.FrameOption, 'DENY');
    assert.equal(headers.ContentTypeOptions?.Override, true);
    assert.equal(headers.StrictTransportSecurity?.AccessControlMaxAgeSec, 31_536_000);
    assert.equal(headers.ReferrerPolicy?.ReferrerPolicy, 'strict-origin-when-cross-origin');
    full.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          ResponseHeadersPolicyId: { Ref: Match.stringLikeRegexp('Headers') },
        }),
      }),
    });
  });

  test('GIVEN the console WHEN a viewer asks for a path THEN client-side routes get index.html while files, a missing /assets/* included, go to S3 as asked', () => {
    const fn = onlyResourceIn(full.template, 'AWS::CloudFront::Function');
    const functionConfig = fn.Properties.FunctionConfig as { Runtime: string };
    assert.equal(functionConfig.Runtime, 'cloudfront-js-2.0');
    full.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          FunctionAssociations: [
            { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [Match.anyValue(), 'FunctionARN'] } },
          ],
        }),
      }),
    });
    // The function's own code, run as CloudFront runs it: handler(event) returns the request.
    const handler = new Function(`${String(fn.Properties.FunctionCode)}; return handler;`)() as (event: {
      request: { uri: string };
    }) => { uri: string };
    const routed = (uri: string) => handler({ request: { uri } }).uri;
    assert.equal(
      routed('/assets/index-0ld0ld.js'),
      '/assets/index-0ld0ld.js',
      'a stale chunk reaches S3: 404',
    );
    assert.equal(routed('/config.json'), '/config.json');
    assert.equal(routed('/index.html'), '/index.html');
    assert.equal(routed('/jobs'), '/index.html');
    assert.equal(routed('/runs/nightly@2026-12-07T05:00:00.000Z'), '/index.html', 'a run id holds dots');
    assert.equal(routed('/auth/callback'), '/index.html');
    assert.equal(routed('/favicon.ico'), '/index.html', 'not a file of this site');
  });

  test('GIVEN the console WHEN synthesized THEN config.json is deployed with the API URL, user pool, client id and hosted UI domain', () => {
    const deployment = onlyResourceIn(full.template, 'Custom::CDKBucketDeployment');
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    for (const value of [api.httpApi.apiId, api.userPool.userPoolId, api.client.userPoolClientId]) {
      assert.ok(
        markers.includes(JSON.stringify(fref(value))),
        `${JSON.stringify(fref(value))} in ${markers}`,
      );
    }
    assert.match(JSON.stringify(deployment.Properties.SourceObjectKeys), /\.zip/);
  });

  test("GIVEN the console WHEN synthesized THEN its config.json names the stage's region, where the run page links traces", () => {
    const deployment = onlyResourceIn(full.template, 'Custom::CDKBucketDeployment');
    const keys = deployment.Properties.SourceObjectKeys as string[];
    const markers = deployment.Properties.SourceMarkers as Record<string, unknown>[];
    // The deployed file as staged in the assembly: deploy-time values stand as markers, which
    // SourceMarkers (one map per source) resolves when the deployment writes it.
    const outdir = (full.stack.node.root as App).outdir;
    const configs = keys
      .map((key, i) => ({
        dir: join(outdir, `asset.${key.replace(/\.zip$/, '')}`),
        markers: markers[i] ?? {},
      }))
      .filter(({ dir }) => existsSync(join(dir, 'config.json')));
    assert.equal(configs.length, 1, 'one config.json among the sources');
    const [config] = configs;
    const json = JSON.parse(readFileSync(join(config!.dir, 'config.json'), 'utf8')) as { region?: string };
    assert.ok(json.region, `a region in ${JSON.stringify(json)}`);
    assert.deepEqual(config!.markers[json.region], { Ref: 'AWS::Region' });
  });

  test('GIVEN no built console WHEN synthesized THEN synth says so; and without the API handler there is no API at all', () => {
    Annotations.fromStack(full.stack).hasWarning(
      '/Clover',
      Match.stringLikeRegexp('The console is not built'),
    );
    Annotations.fromStack(stack).hasWarning('/Clover', Match.stringLikeRegexp('no management API'));
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
  });

  test('GIVEN the full stage WHEN synthesized THEN its outputs name the console, API, user pool, agent policy and queues', () => {
    const outputs = Object.keys(full.template.findOutputs('*'));
    for (const key of [
      'ConsoleUrl',
      'ApiUrl',
      'UserPoolId',
      'UserPoolClientId',
      'HostedUiUrl',
      'WorkerAgentPolicyArn',
      'QueueNames',
      'AlarmTopicArn',
      'DispatcherPublicKeyParameter',
    ]) {
      assert.ok(outputs.includes(key), key);
    }
    const names = String(full.template.findOutputs('QueueNames').QueueNames!.Value).split(',');
    assert.ok(
      names.includes(physicalName(PREFIX, 'worker-gpu-1')) &&
        names.includes(physicalName(PREFIX, 'fires-dlq')),
    );
  });
});
