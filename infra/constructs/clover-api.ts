import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AccountRecovery,
  CfnUserPoolGroup,
  FeaturePlan,
  Mfa,
  OAuthScope,
  UserPool,
  type UserPoolClient,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { physicalName } from '../resources';
import { raiseAlertStatements } from './alert-grants';
import { type CloverTables, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS } from './clover-tables';
import { DISPATCH_QUEUE_REASON } from './dispatcher-function';
import { scheduleArnPattern, scheduleFinding } from './monitor-function';
import { type CloverFunctionLogProps, CloverNodeFunction, logPropsOf } from './node-function';
import { DISPATCH_QUEUE_PATTERNS, queueArnPattern, wildcardQueueFinding } from './queue-arns';

/** The console's roles, highest first: a user's role is the highest group they are in. */
export const ROLE_GROUPS = ['admin', 'operator', 'viewer'] as const;

export interface CloverApiProps extends CloverFunctionLogProps {
  readonly prefix: string;
  /** The API Lambda's handler module, relative to the repository root. */
  readonly entry: string;
  readonly tables: CloverTables;
  readonly schedulerRole: IRole;
  readonly dispatcherArn: string;
  readonly firesDeadLetterQueue: IQueue;
  readonly alertsQueue: IQueue;
  /** Origins the console is served from: CORS and the hosted UI's callback and sign-out URLs. */
  readonly consoleOrigins: readonly string[];
  /** What happens to the user pool when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly userPoolRemovalPolicy?: RemovalPolicy;
  /** Requests per second across the API, and the burst above it (API Gateway throttling). @default { rate: 50, burst: 100 } */
  readonly throttle?: { readonly rate: number; readonly burst: number };
}

/**
 * The management API in AWS (API.md / API-CONTRACT.md): an HTTP API in front of the API Lambda,
 * with a Cognito user pool (groups admin, operator, viewer; TOTP MFA required; no self sign-up),
 * its hosted UI domain and the console's app client. Routes:
 *
 * - `GET /api/health`, `GET /api/openapi.json`: open;
 * - `PUT /api/agents/{owner}/declared-jobs`: IAM (SigV4) — agents, each allowed only its own
 *   owner by the agent policy;
 * - `ANY /api/{proxy+}`: a Cognito access token (JWT authorizer); the Lambda maps
 *   `cognito:groups` to the role.
 *
 * The stage throttles the whole API (`throttle`) and writes JSON access logs. The Lambda's role
 * holds item reads and writes on every table, the stage's schedules, PassRole of the scheduler role
 * to Scheduler, and dispatch to the stage's queues — and no SES: mail is the notifier's.
 */
export class CloverApi extends Construct {
  readonly fn: CloverNodeFunction;
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly domain: UserPoolDomain;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  /** The API's base URL (no trailing slash); routes are under `/api`. */
  readonly url: string;
  readonly hostedUiUrl: string;

  constructor(scope: Construct, id: string, props: CloverApiProps) {
    super(scope, id);
    const { prefix, tables } = props;
    const stack = Stack.of(this);

    this.userPool = new UserPool(this, 'Users', {
      userPoolName: physicalName(prefix, 'users'),
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.ESSENTIALS,
      removalPolicy: props.userPoolRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const plusPlan =
      'Threat protection (advanced security) needs the Cognito Plus plan, billed per monthly active user; the pool has no self sign-up, requires TOTP MFA and the API throttles, so the Essentials plan is the default and Plus is an operator choice.';
    Validations.of(this.userPool).acknowledge(
      { id: 'AwsSolutions-COG3', reason: plusPlan },
      { id: 'AwsSolutions-COG8', reason: plusPlan },
    );
    ROLE_GROUPS.forEach((group, i) => {
      new CfnUserPoolGroup(this, `Group-${group}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: group,
        precedence: i + 1,
        description: `Clover ${group}s`,
      });
    });
    this.domain = this.userPool.addDomain('HostedUi', {
      // Unique per region across AWS: the stage prefix and the account id.
      cognitoDomain: { domainPrefix: `${prefix}-${stack.account}` },
    });
    this.hostedUiUrl = this.domain.baseUrl();
    const origins = [...props.consoleOrigins];
    this.client = this.userPool.addClient('Console', {
      userPoolClientName: physicalName(prefix, 'console'),
      generateSecret: false,
      preventUserExistenceErrors: true,
      authFlows: { userSrp: true },
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE],
        callbackUrls: origins.map((o) => `${o}/auth/callback`),
        logoutUrls: origins.map((o) => `${o}/sign-in`),
      },
    });

    this.fn = new CloverNodeFunction(this, 'Handler', {
      prefix,
      name: 'api',
      entry: props.entry,
      description: 'Clover management API (HTTP API payload v2)',
      memorySize: 512,
      timeout: Duration.seconds(29),
      ...logPropsOf(props),
      environment: {
        CLOVER_DISPATCHER_ARN: props.dispatcherArn,
        CLOVER_SCHEDULER_ROLE_ARN: props.schedulerRole.roleArn,
        CLOVER_FIRES_DLQ_ARN: props.firesDeadLetterQueue.queueArn,
        // The handler verifies console tokens itself too (functions/api/handler.ts).
        COGNITO_USER_POOL_ID: this.userPool.userPoolId,
        COGNITO_CLIENT_ID: this.client.userPoolClientId,
      },
    });
    const statements = [
      new PolicyStatement({
        sid: 'ReadAndWriteItems',
        actions: [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        resources: tables.allArns(),
      }),
      new PolicyStatement({
        sid: 'ManageSchedules',
        actions: [
          'scheduler:CreateSchedule',
          'scheduler:UpdateSchedule',
          'scheduler:DeleteSchedule',
          'scheduler:GetSchedule',
        ],
        resources: [scheduleArnPattern(this, prefix)],
      }),
      new PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [props.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
      new PolicyStatement({
        sid: 'DispatchTriggers',
        actions: ['sqs:SendMessage', 'sqs:GetQueueUrl'],
        resources: DISPATCH_QUEUE_PATTERNS.map((pattern) => queueArnPattern(this, prefix, pattern)),
      }),
      ...raiseAlertStatements(tables, props.alertsQueue),
    ];
    for (const statement of statements) this.fn.role.addToPrincipalPolicy(statement);
    Validations.of(this.fn.role).acknowledge(
      ...DISPATCH_QUEUE_PATTERNS.map((pattern) => ({
        id: wildcardQueueFinding(prefix, pattern),
        reason: DISPATCH_QUEUE_REASON,
      })),
      {
        id: scheduleFinding(prefix),
        reason:
          "The API creates one schedule per job, named by its id at runtime; the pattern is this stage's schedule group only, and the actions are Create, Update, Delete and Get.",
      },
    );

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.userPoolRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.httpApi = new HttpApi(this, 'Http', {
      apiName: physicalName(prefix, 'api'),
      description: `Clover ${prefix} management API`,
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: origins,
        allowMethods: [CorsHttpMethod.ANY],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.hours(1),
      },
    });
    const throttle = props.throttle ?? { rate: 50, burst: 100 };
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: throttle.rate, burstLimit: throttle.burst },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            ip: '$context.identity.sourceIp',
            latencyMs: '$context.responseLatency',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    this.url = `https://${this.httpApi.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;

    const integration = new HttpLambdaIntegration('Lambda', this.fn.fn);
    const open = new HttpNoneAuthorizer();
    for (const path of ['/api/health', '/api/openapi.json']) {
      this.httpApi.addRoutes({ path, methods: [HttpMethod.GET], integration, authorizer: open });
    }
    this.httpApi.addRoutes({
      path: '/api/agents/{owner}/declared-jobs',
      methods: [HttpMethod.PUT],
      integration,
      authorizer: new HttpIamAuthorizer(),
    });
    this.httpApi.addRoutes({
      path: '/api/{proxy+}',
      methods: [HttpMethod.ANY],
      integration,
      authorizer: new HttpUserPoolAuthorizer('Cognito', this.userPool, { userPoolClients: [this.client] }),
    });
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Only GET /api/health and GET /api/openapi.json are open (liveness and the public API description, no data); every other route needs a Cognito token or SigV4.',
    });
  }
}
