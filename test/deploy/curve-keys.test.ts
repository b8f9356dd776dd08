/**
 * The deploy-time CURVE key generator (functions/curve-keys) end to end: its keys work in a real
 * CURVE handshake with libzmq, they land in Secrets Manager (the emulator's) and read back as the
 * dispatcher reads them at cold start, and the custom resource protocol keeps, renews or leaves the
 * pair as CloudFormation asks.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import * as zmq from 'zeromq';
import { readCurveKeySecret, writeCurveKeySecret } from '../../core/adapters/curve-key-secret';
import { type CurveKeyPair, checkCurveKey, generateCurveKeyPair } from '../../core/adapters/zmq-protocol';
import { ValidationError } from '../../core/errors';
import {
  type CurveKeysRequest,
  type CurveKeysResponse,
  makeCurveKeysHandler,
} from '../../functions/curve-keys/handler';
import { useEmulator } from '../harness';

const aws = useEmulator();
let secrets: SecretsManagerClient | undefined;
const client = () => {
  secrets ??= new SecretsManagerClient({
    endpoint: aws.emulator.endpoint,
    region: aws.emulator.region,
    credentials: aws.emulator.credentials,
  });
  return secrets;
};
after(() => secrets?.destroy());

async function newSecret(name: string): Promise<string> {
  const out = await client().send(
    new CreateSecretCommand({ Name: `${aws.prefix}/${name}`, SecretString: 'placeholder' }),
  );
  return out.ARN!;
}

describe('generated CURVE keys', () => {
  test('GIVEN a pair from Node X25519 WHEN a libzmq CURVE client handshakes with it THEN the message arrives', async () => {
    const server = generateCurveKeyPair();
    checkCurveKey(server.publicKey, 'publicKey');
    checkCurveKey(server.secretKey, 'secretKey');
    const client = zmq.curveKeyPair();
    const router = new zmq.Router({ curveServer: true, curveSecretKey: server.secretKey, linger: 0 });
    const dealer = new zmq.Dealer({
      curveServerKey: server.publicKey,
      curvePublicKey: client.publicKey,
      curveSecretKey: client.secretKey,
      linger: 0,
    });
    try {
      await router.bind('tcp://127.0.0.1:*');
      dealer.connect(router.lastEndpoint!);
      await dealer.send('over CURVE');
      const [, body] = await router.receive();
      assert.equal(body?.toString(), 'over CURVE');
    } finally {
      dealer.close();
      router.close();
    }
  });

  test('GIVEN two generations WHEN compared THEN the pairs differ', () => {
    assert.notEqual(generateCurveKeyPair().secretKey, generateCurveKeyPair().secretKey);
  });
});

describe('the key secret', () => {
  test('GIVEN a written pair WHEN the dispatcher reads the secret THEN it gets the same pair', async () => {
    const arn = await newSecret('roundtrip');
    const pair = generateCurveKeyPair();
    await writeCurveKeySecret(client(), arn, pair);
    assert.deepEqual(await readCurveKeySecret(client(), arn), pair);
  });

  test('GIVEN a secret that is not a key pair WHEN read THEN the error names the field', async () => {
    const arn = await newSecret('not-keys');
    await assert.rejects(
      readCurveKeySecret(client(), arn),
      (e: unknown) => e instanceof ValidationError && /secret/.test(e.message),
    );
    await writeCurveKeySecret(client(), arn, {
      publicKey: 'short',
      secretKey: generateCurveKeyPair().secretKey,
    } as CurveKeyPair);
    await assert.rejects(readCurveKeySecret(client(), arn), /secret\.publicKey: must be a 40-character Z85/);
  });
});

describe('the key generator custom resource', () => {
  const responses: CurveKeysResponse[] = [];
  const handler = makeCurveKeysHandler({
    read: (arn) => readCurveKeySecret(client(), arn),
    write: (arn, pair) => writeCurveKeySecret(client(), arn, pair),
    generate: generateCurveKeyPair,
    respond: async (_url, response) => {
      responses.push(response);
    },
  });
  const request = (fields: Partial<CurveKeysRequest>): CurveKeysRequest => ({
    RequestType: 'Create',
    ResponseURL: 'https://cloudformation-response.example/',
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'KeyPair',
    ResourceProperties: {},
    ...fields,
  });
  const stored = async (arn: string) =>
    JSON.parse(
      (await client().send(new GetSecretValueCommand({ SecretId: arn }))).SecretString!,
    ) as CurveKeyPair;

  test('GIVEN Create, an unchanged Update, a raised Version and Delete WHEN handled THEN the pair is made, kept, renewed and left', async () => {
    const arn = await newSecret('lifecycle');
    const props = { SecretArn: arn, Version: '1' };
    const created = await handler(request({ ResourceProperties: props }));
    assert.equal(created.Status, 'SUCCESS');
    const first = await stored(arn);
    assert.deepEqual(created.Data, { PublicKey: first.publicKey });
    assert.ok(!JSON.stringify(created).includes(first.secretKey), 'the secret key never leaves the secret');

    const kept = await handler(
      request({
        RequestType: 'Update',
        PhysicalResourceId: created.PhysicalResourceId,
        ResourceProperties: props,
        OldResourceProperties: props,
      }),
    );
    assert.deepEqual(kept.Data, { PublicKey: first.publicKey });
    assert.deepEqual(await stored(arn), first);

    const renewed = await handler(
      request({
        RequestType: 'Update',
        PhysicalResourceId: created.PhysicalResourceId,
        ResourceProperties: { ...props, Version: '2' },
        OldResourceProperties: props,
      }),
    );
    const second = await stored(arn);
    assert.notEqual(second.secretKey, first.secretKey);
    assert.deepEqual(renewed.Data, { PublicKey: second.publicKey });

    const deleted = await handler(
      request({
        RequestType: 'Delete',
        PhysicalResourceId: created.PhysicalResourceId,
        ResourceProperties: props,
      }),
    );
    assert.equal(deleted.Status, 'SUCCESS');
    assert.deepEqual(await stored(arn), second);
    assert.equal(responses.length, 4, 'every request is answered');
  });

  test('GIVEN a secret that does not exist WHEN created THEN CloudFormation is told FAILED with the reason', async () => {
    const failed = await handler(
      request({ ResourceProperties: { SecretArn: `${aws.prefix}/missing`, Version: '1' } }),
    );
    assert.equal(failed.Status, 'FAILED');
    assert.match(failed.Reason ?? '', /secret/);
    assert.equal(responses.at(-1), failed);
  });
});
