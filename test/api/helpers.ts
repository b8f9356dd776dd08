/**
 * The management API on the emulator for tests: one control plane per file, the local API server on
 * a free port with its own `.clover` state in a temp dir, and a typed client per role.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { type ControlPlane, controlPlane } from '../../core/adapters/control-plane';
import { CloverApiClient, CloverApiError } from '../../core/api/client';
import type { Role } from '../../core/api/schemas';
import type { EndpointPolicy } from '../../core/endpoints';
import { type LocalApi, startLocalApi } from '../../functions/local/api-server';
import { type EmulatorHandle, useEmulator } from '../harness';

export interface ApiHandle {
  readonly aws: EmulatorHandle;
  readonly plane: ControlPlane;
  readonly server: LocalApi;
  /** A client with no token. */
  readonly anonymous: CloverApiClient;
  as(role: Role): CloverApiClient;
  /** Starts the plane and server on first call (from inside a test); later calls wait for the same start. */
  ready(): Promise<void>;
}

export function useApi(
  options: { rateLimit?: { perSecond: number; burst: number }; endpointPolicy?: EndpointPolicy } = {},
): ApiHandle {
  const aws = useEmulator();
  let plane: ControlPlane | undefined;
  let server: LocalApi | undefined;
  const clients = new Map<Role, CloverApiClient>();
  let started: Promise<void> | undefined;
  const start = async () => {
    await aws.provisioned();
    plane = controlPlane({
      clients: aws.clients,
      prefix: aws.prefix,
      ...(options.endpointPolicy ? { endpointPolicy: options.endpointPolicy } : {}),
    });
    server = await startLocalApi({
      plane,
      log: plane.log,
      port: 0,
      stateDir: await mkdtemp(join(tmpdir(), 'clover-api-')),
      rateLimit: options.rateLimit ?? { perSecond: 10_000, burst: 10_000 },
    });
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const { token } = await server.auth.issue(`${role}-user`, role);
      clients.set(role, new CloverApiClient({ baseUrl: server.url, token }));
    }
  };
  after(async () => {
    await server?.close();
    await plane?.close();
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useApi: available only inside tests');
    return value;
  };
  return {
    aws,
    get plane() {
      return need(plane);
    },
    get server() {
      return need(server);
    },
    get anonymous() {
      return new CloverApiClient({ baseUrl: need(server).url });
    },
    as: (role) => need(clients.get(role)),
    ready: () => {
      started ??= start();
      return started;
    },
  };
}

/** Runs `call` and returns the CloverApiError it throws (fails if it does not throw one). */
export async function apiError(call: Promise<unknown>): Promise<CloverApiError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof CloverApiError) return error;
    throw error;
  }
  throw new Error('expected the API to answer an error');
}
