/**
 * Declared jobs through the management API (docs/api.md): the agent sends its config's and
 * decorators' jobs to `PUT /api/agents/{owner}/declared-jobs`, and the API runs the same sync
 * (job-sync.ts) on its behalf. So a deployed agent declares REMOTE jobs without holding scheduler or
 * job-table write rights: in AWS it signs the request with its IAM credentials (SigV4, an
 * IAM-authorized route); against the local runtime it sends the local admin token.
 */
import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { CloverApiClient, CloverApiError } from '../core/api/client';
import type { JobSpecInput } from '../core/model';
import { JobOwnershipError, type SyncResult } from './job-sync';

/** What the agent calls to sync its declared jobs (AgentDeps.declaredJobSync). */
export type DeclaredJobSync = (input: {
  readonly owner: string;
  readonly declared: readonly JobSpecInput[];
}) => Promise<SyncResult>;

/**
 * The sync over the API. A declared id another owner holds comes back as 409 ALREADY_EXISTS naming
 * `jobs.<i>.jobId`; it is thrown as the same JobOwnershipError the direct sync throws, so the agent
 * treats both paths alike.
 */
export function apiDeclaredJobSync(client: CloverApiClient): DeclaredJobSync {
  return async ({ owner, declared }) => {
    try {
      return await client.call('syncDeclaredJobs', {
        params: { owner },
        body: { jobs: declared as never },
      });
    } catch (error) {
      const index = /^jobs\.(\d+)\.jobId$/.exec(
        error instanceof CloverApiError ? (error.fields[0]?.path ?? '') : '',
      )?.[1];
      const spec = index === undefined ? undefined : declared[Number(index)];
      if (error instanceof CloverApiError && error.code === 'ALREADY_EXISTS' && spec) {
        throw new JobOwnershipError(spec.jobId, undefined, owner);
      }
      throw error;
    }
  };
}

/** SHA-256 in the shape SignatureV4 wants (`@aws-crypto/sha256-js`'s), from node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** `fetch` that signs every request with SigV4 for API Gateway (`execute-api`), with the default credential chain. */
export function sigV4Fetch(region: string): typeof fetch {
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = { host: url.host };
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    const signed = await signer.sign({
      method: init.method ?? 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      ...(typeof init.body === 'string' ? { body: init.body } : {}),
    });
    return fetch(url, { ...init, headers: signed.headers });
  };
}

/**
 * The agent's API client from its environment, or undefined for the direct path: `CLOVER_API_URL`
 * with `CLOVER_API_TOKEN` (a bearer token), or with `CLOVER_API_AUTH=iam` (SigV4, region from
 * `AWS_REGION`).
 */
export function apiClientFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): CloverApiClient | undefined {
  const baseUrl = env.CLOVER_API_URL?.replace(/\/+(api\/?)?$/, '');
  if (!baseUrl) return undefined;
  if (env.CLOVER_API_AUTH === 'iam') {
    return new CloverApiClient({ baseUrl, fetch: sigV4Fetch(env.AWS_REGION ?? 'us-east-1') });
  }
  if (env.CLOVER_API_TOKEN) return new CloverApiClient({ baseUrl, token: env.CLOVER_API_TOKEN });
  return undefined;
}
