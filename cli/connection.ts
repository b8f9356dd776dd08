/**
 * Where the CLI sends its requests and with which token (docs/cli.md, "Connecting").
 *
 * Endpoint, first found wins: `--endpoint`, `CLOVER_API_URL`, the local runtime's `.clover/api.json`
 * (`url`), then http://127.0.0.1:8080. Token: `--token`, `CLOVER_TOKEN`, then the admin token the
 * local runtime wrote to `.clover/api.json` (`token`) — the last only when the endpoint is that local
 * runtime, so a local token is never sent to another server. `.clover/` is looked for in the working
 * directory and its parents, like git looks for `.git`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8080';
export const LOCAL_API_FILE = join('.clover', 'api.json');

export interface Connection {
  /** Base URL without a trailing `/api`, e.g. `http://127.0.0.1:8080`. */
  readonly endpoint: string;
  readonly token: string | undefined;
  /** Where the endpoint came from, for error messages: `--endpoint`, `CLOVER_API_URL`, a file path, `default`. */
  readonly endpointFrom: string;
}

export interface ConnectionInput {
  readonly endpoint?: string | undefined;
  readonly token?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

interface LocalApiFile {
  readonly path: string;
  readonly url?: string;
  readonly token?: string;
}

/** `http://host:8080/api/` → `http://host:8080`: users paste either form. */
export function normalizeEndpoint(url: string): string {
  return url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\/api$/, '');
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

/** The nearest `.clover/api.json` from `cwd` upwards, or undefined. A malformed file is ignored. */
export function findLocalApiFile(cwd: string): LocalApiFile | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const path = join(dir, LOCAL_API_FILE);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      // not here; look in the parent
    }
    if (text !== undefined) {
      try {
        const data = JSON.parse(text) as Record<string, unknown>;
        const url = data.url ?? data.endpoint;
        return {
          path,
          ...(typeof url === 'string' ? { url: normalizeEndpoint(url) } : {}),
          ...(typeof data.token === 'string' ? { token: data.token } : {}),
        };
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export function resolveConnection(input: ConnectionInput): Connection {
  const local = findLocalApiFile(input.cwd);
  const [raw, endpointFrom] =
    input.endpoint !== undefined
      ? [input.endpoint, '--endpoint']
      : input.env.CLOVER_API_URL
        ? [input.env.CLOVER_API_URL, 'CLOVER_API_URL']
        : local?.url
          ? [local.url, local.path]
          : [DEFAULT_ENDPOINT, 'default'];
  const endpoint = normalizeEndpoint(raw);
  const localEndpoint = local?.url ?? (isLoopback(endpoint) ? endpoint : undefined);
  const token =
    input.token ?? (input.env.CLOVER_TOKEN || (endpoint === localEndpoint ? local?.token : undefined));
  return { endpoint, token, endpointFrom };
}
