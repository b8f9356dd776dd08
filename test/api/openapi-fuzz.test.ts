/**
 * Every operation of the OpenAPI document (`/api/openapi.json`), fuzzed by real HTTP against the
 * real API on the emulator as admin: seeded malformed path parameters, queries and bodies — values
 * that break each parameter's and each body field's documented schema (wrong types, too long, outside
 * the enum or pattern), unknown and missing fields, repeated and unknown query parameters, bodies
 * nested 10,000 levels, 1 MB strings (sent with a length and chunked), non-JSON and wrong content
 * types. A case counts as malformed only when the document's own schema rejects it (checked with
 * ajv), so the server is held to its document. Every answer must be a documented status of its
 * operation, its body valid against that status's schema (2xx and 4xx alike), and never a 5xx;
 * nothing a refused request sent is written (item counts of every table and the schedules, before
 * and after). Then one well-formed request per operation, its 2xx answer validated the same way.
 * Prints the counts per operation.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { seeded } from '../../core/testing/seeded';
import { useApi } from './helpers';

const api = useApi();
const SEED = 2412;

type Json = Record<string, unknown>;
interface Operation {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly parameters: { name: string; in: 'path' | 'query'; schema: Json }[];
  readonly body?: Json;
  readonly responses: Record<string, { content?: { 'application/json'?: { schema: Json } } }>;
}

function nestedText(depth: number, leaf = '1'): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : '{"k":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return `${open}${leaf}${close}`;
}

/** The fixtures the well-formed requests name; created before the fuzz, so malformed ones meet real records. */
const JOB = 'fz-job';
const CONTACT = 'fz-contact';
const spec = (jobId: string) => ({
  jobId,
  handler: 'reports.daily',
  schedule: { expression: 'rate(5 minutes)' },
});

/** One well-formed request per operation (path values, query, body) and the statuses it may answer. */
function wellFormed(runId: string, jobVersion: () => Promise<number>) {
  const some =
    (path: Json = {}, query: Json = {}, body?: unknown, ok = [200]) =>
    async () => ({
      path,
      query,
      body,
      ok,
    });
  return {
    health: some(),
    me: some(),
    localLogin: some({}, {}, { username: 'nobody', password: 'wrong' }, [401]),
    openapi: some(),
    listJobs: some({}, { limit: '5', mode: 'REMOTE' }),
    createJob: some({}, {}, spec('fz-new'), [201]),
    getJob: some({ jobId: JOB }),
    updateJob: async () => ({
      path: { jobId: JOB },
      query: {},
      body: { version: await jobVersion(), spec: { ...spec(JOB), description: 'updated' } },
      ok: [200],
    }),
    pauseJob: some({ jobId: JOB }),
    resumeJob: some({ jobId: JOB }),
    triggerJob: some({ jobId: JOB }, {}, {}, [202]),
    previewSchedule: some({}, {}, { expression: 'rate(5 minutes)', count: 3 }),
    listRuns: some({}, { jobId: JOB, limit: '10' }),
    getRun: some({ runId }),
    getRunLog: some({ runId }, { limit: '10' }),
    cancelRun: some({ runId }, {}, undefined, [200, 409]),
    searchErrors: some({}, { q: 'boom' }),
    listWorkers: some(),
    drainWorker: some({ workerId: 'fz-worker' }, {}, undefined, [404]),
    listContacts: some({}, { limit: '5' }),
    createContact: some({}, {}, { contactId: 'fz-new-contact', name: 'N', email: 'n@example.com' }, [201]),
    getContact: some({ contactId: CONTACT }),
    updateContact: some({ contactId: CONTACT }, {}, { name: 'Renamed' }),
    listAlerts: some({}, { limit: '5', status: 'OPEN' }),
    acknowledgeAlert: some({ alertId: 'fz-no-alert' }, {}, {}, [404]),
    listSilences: some(),
    createSilence: some(
      {},
      {},
      { kind: 'misfire', endsAt: new Date(Date.now() + 3_600_000).toISOString() },
      [201],
    ),
    deleteSilence: some({ silenceId: 's-fz' }, {}, undefined, [404]),
    getStats: some({}, { jobId: JOB }),
    listAudit: some({}, { limit: '5' }),
    syncDeclaredJobs: some({ owner: 'fz-owner' }, {}, { jobs: [spec('fz-declared')] }),
    deleteContact: some({ contactId: 'fz-new-contact' }, {}, undefined, [204]),
    deleteJob: some({ jobId: 'fz-new' }, {}, undefined, [204]),
  } as const satisfies Record<
    string,
    () => Promise<{ path: Json; query: Json; body?: unknown; ok: number[] }>
  >;
}

interface Case {
  readonly kind: string;
  readonly path: Record<string, string>;
  readonly query: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly chunked?: boolean;
}

/** Values of the wrong type, or outside the schema, for a JSON value of `schema`. */
function wrongValues(schema: Json, random: () => number): unknown[] {
  const long = 'x'.repeat(100_000 + Math.floor(random() * 100_000));
  const byType: Record<string, unknown[]> = {
    string: [42, true, [], {}, null, long, '', '\u0000\u202e'],
    integer: ['7', 1.5, -1, 2 ** 60, true, null, []],
    number: ['7', true, null, {}, -1e308],
    boolean: ['true', 0, null, []],
    array: [{}, 'a', 7, null, Array(600).fill('x')],
    object: [[], 'a', 7, null, { zzUnknown: 1 }],
  };
  const types = [schema.type, ...((schema.anyOf as Json[] | undefined) ?? []).map((s) => s.type)].flat();
  const out = types.flatMap((t) => (typeof t === 'string' ? (byType[t] ?? []) : []));
  if (schema.enum) out.push('NOPE', String((schema.enum as unknown[])[0]).toLowerCase());
  return out;
}

/** Query and path values that break a parameter's schema, as strings. */
const BAD_STRINGS = [
  'a'.repeat(65),
  'a'.repeat(8000),
  '..',
  '%2e%2e',
  'a%2Fb',
  '%00',
  'h%C3%A9llo',
  '%20sp',
  '%3Cscript%3E',
  '%E0%A4%A',
  "'%20OR%201=1",
  '__proto__',
  '-lead',
  '-1',
  '1.5',
  'abc',
  'NOPE',
  '',
];

function casesFor(
  op: Operation,
  base: { path: Json; query: Json; body?: unknown },
  accepts: Validators,
  random: () => number,
): Case[] {
  const path = Object.fromEntries(Object.entries(base.path).map(([k, v]) => [k, String(v)]));
  const query = new URLSearchParams(base.query as Record<string, string>).toString();
  const body = base.body === undefined ? undefined : JSON.stringify(base.body);
  const cases: Case[] = [];
  const add = (kind: string, change: Partial<Case>) =>
    cases.push({ kind, path, query, ...(body === undefined ? {} : { body }), ...change });
  // Path parameters: values the parameter's schema refuses (the server must not write with them).
  for (const param of op.parameters.filter((p) => p.in === 'path')) {
    for (const value of BAD_STRINGS) {
      if (value === '' || accepts.param(param, decodeURIComponentSafe(value))) continue;
      add('path', { path: { ...path, [param.name]: value } });
    }
  }
  // Query: an unknown parameter, a repeated one, and values each parameter's schema refuses.
  add('query', { query: `${query}${query ? '&' : ''}zzUnknown=1` });
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  if (queryParams[0])
    add('query', { query: `${query}${query ? '&' : ''}${queryParams[0].name}=1&${queryParams[0].name}=2` });
  for (const param of queryParams) {
    for (const value of BAD_STRINGS) {
      if (accepts.param(param, decodeURIComponentSafe(value))) continue;
      if (random() < 0.5) add('query', { query: `${query}${query ? '&' : ''}${param.name}=${value}` });
    }
  }
  // Bodies, on every operation: routes without one must refuse one.
  const deep = nestedText(10_000);
  add('body', { body: `[${deep}]`, contentType: 'application/json' });
  add('body', { body: deep, contentType: 'application/json' });
  add('body', { body: `{"k":"${'x'.repeat(1024 * 1024)}"}`, contentType: 'application/json' });
  // Chunked GETs and DELETEs are refused by @hono/node-server itself (an empty 400) before the API sees them.
  if (op.method === 'POST' || op.method === 'PUT') {
    add('body', {
      body: `{"k":"${'x'.repeat(1024 * 1024)}"}`,
      contentType: 'application/json',
      chunked: true,
    });
  }
  add('body', {
    body: pick(random, ['{', 'null null', '\u0000\u0001', '{"a":}', "{'a':1}"]),
    contentType: 'application/json',
  });
  if (op.body) {
    for (const raw of ['null', '42', '[]', '"s"', 'true'])
      add('body', { body: raw, contentType: 'application/json' });
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
    ]) {
      add('content-type', { contentType: type });
    }
    const valid = (base.body ?? {}) as Json;
    const properties = propertiesOf(op.body);
    const variants: Json[] = [{ ...valid, zzUnknown: 1 }];
    for (const [name, schema] of Object.entries(properties)) {
      const without = { ...valid };
      delete without[name];
      variants.push(without);
      for (const value of wrongValues(schema, random)) variants.push({ ...valid, [name]: value });
      add('depth', {
        body: JSON.stringify({ ...valid, [name]: 0 }).replace(
          `"${name}":0`,
          `"${name}":${nestedText(10_000)}`,
        ),
        contentType: 'application/json',
      });
    }
    for (const variant of variants) {
      if (accepts.body(op, variant)) continue; // not malformed by the document: not a fuzz case
      add('field', { body: JSON.stringify(variant), contentType: 'application/json' });
    }
  } else {
    add('body', { body: '{"zzUnknown":1}', contentType: 'application/json' });
  }
  return cases;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function propertiesOf(schema: Json): Record<string, Json> {
  const own = (schema.properties as Record<string, Json> | undefined) ?? {};
  const alternatives = [...((schema.anyOf as Json[]) ?? []), ...((schema.oneOf as Json[]) ?? [])];
  return Object.assign({}, ...alternatives.map(propertiesOf), own);
}

interface Validators {
  param(param: Operation['parameters'][number], value: string): boolean;
  body(op: Operation, value: unknown): boolean;
  response(op: Operation, status: number): ValidateFunction | 'no-body' | undefined;
}

function validators(doc: Json): Validators {
  // OpenAPI 3.1 schemas are JSON Schema 2020-12 plus the OpenAPI base vocabulary's annotations.
  const strict = new Ajv2020({ strict: true, allErrors: false });
  const coercing = new Ajv2020({ strict: true, coerceTypes: true });
  for (const ajv of [strict, coercing]) {
    addFormats(ajv);
    ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
  }
  const components = (doc.components as { schemas: Record<string, Json> }).schemas;
  const resolve = (schema: Json): Json => {
    const ref = schema.$ref as string | undefined;
    return ref?.startsWith('#/components/schemas/')
      ? components[ref.slice('#/components/schemas/'.length)]!
      : schema;
  };
  const cache = new Map<Json, ValidateFunction>();
  const compile = (ajv: Ajv2020, schema: Json) => {
    const key = resolve(schema);
    let fn = cache.get(key);
    if (!fn) {
      fn = ajv.compile(key);
      cache.set(key, fn);
    }
    return fn;
  };
  const paramCache = new Map<Json, ValidateFunction>();
  return {
    param(param, value) {
      let fn = paramCache.get(param.schema);
      if (!fn) {
        fn = coercing.compile({ type: 'object', properties: { v: param.schema } });
        paramCache.set(param.schema, fn);
      }
      return fn({ v: value });
    },
    body: (op, value) => compile(strict, op.body!)(value),
    response(op, status) {
      const documented = op.responses[String(status)];
      if (!documented) return undefined;
      const schema = documented.content?.['application/json']?.schema;
      return schema ? compile(strict, schema) : 'no-body';
    },
  };
}

function operations(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const body = (op.requestBody as { content: { 'application/json': { schema: Json } } } | undefined)
        ?.content['application/json'].schema;
      out.push({
        id: op.operationId as string,
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters as Operation['parameters'] | undefined) ?? [],
        ...(body ? { body } : {}),
        responses: op.responses as Operation['responses'],
      });
    }
  }
  return out;
}

/** Sends one request by node:http (so a body can go chunked) and reads the answer. */
function send(
  url: string,
  token: string,
  method: string,
  c: { path: string; body?: string; contentType?: string; chunked?: boolean },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
    if (c.contentType) headers['content-type'] = c.contentType;
    if (c.body !== undefined && !c.chunked) headers['content-length'] = Buffer.byteLength(c.body);
    // A fresh connection each: a refused big body may leave the previous one closing.
    const req = httpRequest(`${url}${c.path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    // A refusal may close the connection before a big body is all sent: the answer is what counts.
    let answered = false;
    req.on('response', () => {
      answered = true;
    });
    req.on('error', (error) => (answered ? undefined : reject(error)));
    if (c.body !== undefined && c.chunked) {
      // Chunked: 64 KiB at a time, no Content-Length; a refusal may close the connection mid-way.
      const data = Buffer.from(c.body);
      for (let i = 0; i < data.length; i += 64 * 1024) req.write(data.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(c.body);
  });
}

async function itemCounts(): Promise<string> {
  const stack = await api.aws.provisioned();
  const counts: Record<string, number> = {};
  for (const [name, table] of Object.entries(stack.tables)) {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await api.aws.clients.dynamodb.send(
        new ScanCommand({
          TableName: table,
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start as never } : {}),
        }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    counts[name] = count;
  }
  counts.schedules = (await api.plane.schedules.list()).length;
  return JSON.stringify(counts);
}

test('every OpenAPI operation, fuzzed by real HTTP: documented answers only, valid against their schemas, no 5xx, nothing written', async () => {
  await api.ready();
  const admin = api.as('admin');
  const doc = (await (await api.anonymous.request('GET', '/api/openapi.json')).json()) as Json;
  const ops = operations(doc);
  const check = validators(doc);
  await admin.call('createJob', { body: spec(JOB) });
  await admin.call('createContact', { body: { contactId: CONTACT, name: 'Fz', email: 'fz@example.com' } });
  const { runId } = await admin.call('triggerJob', { params: { jobId: JOB }, body: {} });
  const good = wellFormed(
    runId,
    async () => (await admin.call('getJob', { params: { jobId: JOB } })).version,
  );
  assert.deepEqual(
    ops.map((o) => o.id).sort(),
    Object.keys(good).sort(),
    'the test knows a well-formed request for every operation in the document',
  );
  const url = api.server.url;
  const token = api.server.adminToken;
  const pathOf = (op: Operation, values: Record<string, string>, query: string) =>
    `${op.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '')}${query ? `?${query}` : ''}`;
  const judge = (op: Operation, label: string, status: number, text: string) => {
    assert.ok(status < 500, `${label}: ${status} ${text.slice(0, 300)}`);
    const validate = check.response(op, status);
    assert.ok(validate, `${label}: ${status} is not a documented answer of ${op.id}: ${text.slice(0, 200)}`);
    if (validate === 'no-body') return;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      assert.fail(`${label}: ${status} answered ${JSON.stringify(text.slice(0, 200))}, not JSON`);
    }
    assert.ok(
      validate(body),
      `${label}: ${status} does not match its schema: ${JSON.stringify(validate.errors)} ${text.slice(0, 200)}`,
    );
    if (status >= 400) {
      const error = body as { code: string; message: string; fields?: { path: string }[] };
      assert.ok(error.code && error.message, `${label}: an error names its code and reason`);
      if (error.code === 'VALIDATION_FAILED') assert.ok(error.fields?.length, `${label}: names its field`);
    }
  };

  // Malformed: every case refused (4xx), nothing written.
  const before = await itemCounts();
  const random = seeded(SEED);
  const rssBefore = process.memoryUsage().rss;
  const counts: string[] = [];
  let total = 0;
  for (const op of ops) {
    const base = await good[op.id as keyof typeof good]();
    const cases = casesFor(op, base, check, random);
    const byStatus = new Map<number, number>();
    const byKind = new Map<string, number>();
    for (const [i, c] of cases.entries()) {
      const label = `${op.id} case ${i} (${c.kind}, seed ${SEED})`;
      const { status, text } = await send(url, token, op.method, {
        ...c,
        path: pathOf(op, c.path, c.query),
      }).catch((error: Error) =>
        assert.fail(
          `${label}: ${error.message} (${(c.body ?? '').length} body bytes, ${c.query.length} query chars)`,
        ),
      );
      judge(op, label, status, text);
      // The document takes no query (it ignores one, as a static file would) and refuses a body; every
      // other operation refuses whatever is malformed.
      if (op.id !== 'openapi' || c.kind === 'body')
        assert.ok(
          status >= 400,
          `${label} was accepted (${status}): ${(c.body ?? '').slice(0, 200)} ${c.query}`,
        );
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
    }
    total += cases.length;
    counts.push(
      `${op.method.padEnd(6)} ${op.path.padEnd(36)} ${String(cases.length).padStart(3)} cases  ` +
        `${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}  →  ${[...byStatus]
          .sort()
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
    );
  }
  assert.equal(await itemCounts(), before, 'refused requests wrote nothing');
  const grown = process.memoryUsage().rss - rssBefore;
  console.log(
    `OpenAPI fuzz, seed ${SEED}: ${total} malformed requests over ${ops.length} operations, RSS +${(grown / 1e6).toFixed(0)} MB`,
  );
  for (const line of counts) console.log(`  ${line}`);
  assert.ok(grown < 256 * 1024 * 1024, `RSS grew ${(grown / 1e6).toFixed(0)} MB over the fuzz`);

  // Well-formed: one per operation, its 2xx (or documented) answer valid against its schema.
  for (const op of ops) {
    const request = await good[op.id as keyof typeof good]();
    const query = new URLSearchParams(request.query as Record<string, string>).toString();
    const values = Object.fromEntries(Object.entries(request.path).map(([k, v]) => [k, String(v)]));
    const { status, text } = await send(url, token, op.method, {
      path: pathOf(op, values, query),
      ...(request.body === undefined
        ? {}
        : { body: JSON.stringify(request.body), contentType: 'application/json' }),
    });
    judge(op, `${op.id} well-formed`, status, text);
    assert.ok(request.ok.includes(status), `${op.id} well-formed: ${status} ${text.slice(0, 300)}`);
  }
});
