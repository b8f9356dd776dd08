/**
 * The OpenAPI 3.1 document of the management API, generated from the route table and its zod
 * schemas (JSON Schema draft 2020-12, which OpenAPI 3.1 uses), so it cannot drift from what the
 * server validates. Served at `/api/openapi.json`.
 */
import { z } from 'zod';
import { commonErrors, openApiPath, type RouteDef, routes } from './routes';
import { API_ERROR_STATUS, API_LIMITS, type ApiErrorCode, ApiErrorCodes, ApiErrorSchema } from './schemas';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    reused: 'inline',
  }) as JsonSchema;
  return rest;
}

const ROLE_TEXT: Readonly<Record<RouteDef['access'], string>> = {
  public: 'No token needed.',
  viewer: 'Role: viewer or better.',
  operator: 'Role: operator or admin.',
  admin: 'Role: admin.',
  agent: 'Agents: IAM (SigV4) in AWS; an admin token in the local runtime.',
};

function parameters(route: RouteDef): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, object] of [
    ['path', route.params],
    ['query', route.query],
    ['header', route.headers],
  ] as const) {
    if (!object) continue;
    for (const [name, field] of Object.entries(object.shape as Record<string, z.ZodType>)) {
      const optional = field.safeParse(undefined).success;
      out.push({
        name,
        in: where,
        required: where === 'path' || !optional,
        schema: schemaOf(field, 'input'),
      });
    }
  }
  return out;
}

function responses(route: RouteDef): JsonSchema {
  const out: JsonSchema = {
    [route.status]: route.response
      ? {
          description: route.summary,
          content: { 'application/json': { schema: schemaOf(route.response, 'output') } },
        }
      : { description: 'Done; no body.' },
  };
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of new Set([...route.errors, ...commonErrors(route)])) {
    const status = API_ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[status] = {
      description: `Error: ${codes.join(', ')}`,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
    };
  }
  return out;
}

export function openApiDocument(serverUrl = '/'): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes as readonly RouteDef[]) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = {
      operationId: route.id,
      summary: route.summary,
      description: ROLE_TEXT[route.access],
      tags: [route.tag],
      ...(route.access === 'public' ? { security: [] } : {}),
      parameters: parameters(route),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
            },
          }
        : {}),
      responses: responses(route),
      'x-clover-access': route.access,
    };
  }
  paths['/api/openapi.json'] = {
    get: {
      operationId: 'openapi',
      summary: 'This document',
      tags: ['meta'],
      security: [],
      responses: {
        200: { description: 'OpenAPI 3.1 document' },
        400: {
          description: 'Error: VALIDATION_FAILED (a body was sent; the document takes none)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
        },
      },
      'x-clover-access': 'public',
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Clover management API',
      version: '1',
      description:
        'Jobs, runs, workers, contacts, alerts, stats and audit. Errors are {code, message, fields?}; ' +
        'lists are {items, nextCursor?}. See docs/api.md.',
      'x-clover-limits': API_LIMITS,
      'x-clover-error-codes': Object.fromEntries(ApiErrorCodes.map((c) => [c, API_ERROR_STATUS[c]])),
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'Cognito user-pool token in AWS; a local token from POST /api/auth/local/login in the local runtime.',
        },
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'AWS SigV4 (agents, IAM-authorized route).',
        },
      },
      schemas: { ApiError: schemaOf(ApiErrorSchema, 'output') },
    },
  };
}
