import { sharedAwsClients } from '../../core/adapters/aws-clients';
import { readCurveKeySecret, writeCurveKeySecret } from '../../core/adapters/curve-key-secret';
import { type CurveKeyPair, generateCurveKeyPair } from '../../core/adapters/zmq-protocol';

/** The CloudFormation custom resource request fields the key generator reads. */
export interface CurveKeysRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: { readonly SecretArn?: string; readonly Version?: string };
  readonly OldResourceProperties?: { readonly SecretArn?: string; readonly Version?: string };
}

export interface CurveKeysResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  /** `PublicKey` only: the secret key never leaves Secrets Manager. */
  readonly Data?: { readonly PublicKey: string };
}

export interface CurveKeysDeps {
  readonly read: (secretArn: string) => Promise<CurveKeyPair>;
  readonly write: (secretArn: string, pair: CurveKeyPair) => Promise<void>;
  readonly generate: () => CurveKeyPair;
  /** Sends the response to CloudFormation's pre-signed URL. */
  readonly respond: (url: string, response: CurveKeysResponse) => Promise<void>;
}

/**
 * The deploy-time generator of the dispatcher's CURVE key pair, a CloudFormation custom resource
 * (infra/constructs/curve-keys.ts). Create, or an Update that changes `Version` or the secret,
 * generates a new pair and stores it in the secret; any other Update reads the stored pair back;
 * Delete does nothing (the secret goes with the stack). Only the public key is returned, as the
 * `PublicKey` attribute, which the stack puts in an SSM parameter for agents' configs.
 *
 * A failure is reported as FAILED with its message, so the deploy stops and rolls back instead of
 * waiting an hour for a response.
 */
export function makeCurveKeysHandler(deps: CurveKeysDeps) {
  return async (event: CurveKeysRequest): Promise<CurveKeysResponse> => {
    const secretArn = event.ResourceProperties.SecretArn ?? '';
    const version = event.ResourceProperties.Version ?? '1';
    const base = {
      PhysicalResourceId: event.PhysicalResourceId ?? `${secretArn}#curve-keys`,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
    };
    let response: CurveKeysResponse;
    try {
      if (event.RequestType === 'Delete') {
        response = { ...base, Status: 'SUCCESS' };
      } else {
        if (!secretArn) throw new Error('ResourceProperties.SecretArn is required');
        const old = event.OldResourceProperties;
        const renew =
          event.RequestType === 'Create' || old?.SecretArn !== secretArn || (old?.Version ?? '1') !== version;
        let pair: CurveKeyPair;
        if (renew) {
          pair = deps.generate();
          await deps.write(secretArn, pair);
        } else {
          pair = await deps.read(secretArn);
        }
        response = { ...base, Status: 'SUCCESS', Data: { PublicKey: pair.publicKey } };
      }
    } catch (error) {
      response = {
        ...base,
        Status: 'FAILED',
        Reason: error instanceof Error ? error.message : String(error),
      };
    }
    await deps.respond(event.ResponseURL, response);
    return response;
  };
}

const CLOUDFORMATION_RESPONSE_TIMEOUT_MS = 30_000;

/** PUTs the response body as CloudFormation expects: no content type, explicit length. */
export async function putResponse(url: string, response: CurveKeysResponse): Promise<void> {
  const body = JSON.stringify(response);
  const res = await fetch(url, {
    method: 'PUT',
    body,
    // A hung answer must not hold the custom resource until Lambda's own timeout.
    signal: AbortSignal.timeout(CLOUDFORMATION_RESPONSE_TIMEOUT_MS),
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) },
  });
  if (!res.ok) throw new Error(`CloudFormation response refused: HTTP ${res.status}`);
}

let defaultHandler: ReturnType<typeof makeCurveKeysHandler> | undefined;

export const handler = (event: CurveKeysRequest): Promise<CurveKeysResponse> => {
  if (!defaultHandler) {
    // The shared clients carry a deadline on every call (aws-clients.ts).
    const client = sharedAwsClients().secretsManager;
    defaultHandler = makeCurveKeysHandler({
      read: (arn) => readCurveKeySecret(client, arn),
      write: (arn, pair) => writeCurveKeySecret(client, arn, pair),
      generate: generateCurveKeyPair,
      respond: putResponse,
    });
  }
  return defaultHandler(event);
};
