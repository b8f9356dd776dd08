/**
 * The dispatcher's CURVE key pair as a Secrets Manager secret: JSON `{"publicKey", "secretKey"}`,
 * both Z85. Written once at deploy by the key generator (functions/curve-keys), read once per cold
 * start by the dispatcher; neither key ever sits in a template or an environment variable.
 *
 * @example
 * const keys = await readCurveKeySecret(awsClients().secretsManager, process.env.CLOVER_DISPATCHER_ZMQ_SECRET_ARN);
 */
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ValidationError } from '../errors';
import { awsFailure } from './aws-errors';
import { type CurveKeyPair, checkCurveKey } from './zmq-protocol';

/** Reads and checks the key pair; a secret that is not one names the field that is wrong. */
export async function readCurveKeySecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<CurveKeyPair> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId })).catch((error: unknown) => {
    throw awsFailure(`secret ${secretId}`, error);
  });
  let value: unknown;
  try {
    value = JSON.parse(out.SecretString ?? '');
  } catch {
    throw ValidationError.field('secret', `${secretId} does not hold JSON {"publicKey","secretKey"}`);
  }
  const pair = value as Partial<Record<keyof CurveKeyPair, unknown>>;
  return {
    publicKey: checkCurveKey(String(pair.publicKey ?? ''), 'secret.publicKey'),
    secretKey: checkCurveKey(String(pair.secretKey ?? ''), 'secret.secretKey'),
  };
}

/** Stores `pair` as the secret's current value (a new version; the previous one stays as AWSPREVIOUS). */
export async function writeCurveKeySecret(
  client: SecretsManagerClient,
  secretId: string,
  pair: CurveKeyPair,
): Promise<void> {
  await client
    .send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(pair) }))
    .catch((error: unknown) => {
      throw awsFailure(`secret ${secretId}`, error);
    });
}
