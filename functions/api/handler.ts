/**
 * The management API Lambda (API Gateway HTTP API, payload v2). JWT routes are verified here against
 * the Cognito user pool (COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID; COGNITO_ISSUER instead of the pool id
 * names any issuer shaped like Cognito, whose JWKS is `<issuer>/.well-known/jwks.json`); the agents' declared-job route is
 * IAM-authorized by API Gateway (SigV4), which hands the verified caller in the request context.
 */
import { handle } from 'hono/aws-lambda';
import { controlPlane } from '../../core/adapters/control-plane';
import { monitorOf, scheduleTargets } from '../config';
import { lambdaEntry } from '../telemetry';
import { createApiApp } from './app';
import { CognitoAuthenticator } from './auth';
import { apiGatewaySourceIp } from './client-address';
import { managementApi } from './wiring';

/** The IAM caller API Gateway verified, when the route is IAM-authorized. */
export function iamCallerOf(_request: Request, env: unknown): string | undefined {
  const event = (env as { event?: { requestContext?: { authorizer?: { iam?: { userArn?: string } } } } })
    ?.event;
  return event?.requestContext?.authorizer?.iam?.userArn;
}

type ApiEvent = Parameters<ReturnType<typeof handle>>[0];
type ApiResult = Awaited<ReturnType<ReturnType<typeof handle>>>;

/**
 * Built once per warm container (functions/telemetry.ts): clients, stores and the JWKS cache are
 * reused by warm invocations. The refused sign-ins and tokens a request counted are published when it
 * ends.
 */
export const handler = lambdaEntry<ApiEvent, ApiResult>(
  'api',
  ({ config, log, metrics, clients, traceId }) => {
    const {
      COGNITO_USER_POOL_ID: userPoolId,
      COGNITO_ISSUER: issuer,
      COGNITO_CLIENT_ID: clientId,
    } = process.env;
    if (!clientId || !(userPoolId || issuer))
      throw new Error('COGNITO_CLIENT_ID and COGNITO_USER_POOL_ID (or COGNITO_ISSUER) must be set');
    const plane = controlPlane({
      clients,
      prefix: config.CLOVER_PREFIX,
      log,
      traceId,
      ...scheduleTargets(config),
      endpointPolicy: { allowLoopback: config.CLOVER_WEBHOOK_ALLOW_LOOPBACK === '1' },
      ...monitorOf(config),
    });
    const app = createApiApp({
      api: managementApi(plane),
      auth: new CognitoAuthenticator(
        issuer ? { issuer, clientId } : { userPoolId: userPoolId as string, clientId },
      ),
      iamCaller: iamCallerOf,
      // API Gateway is the one proxy here: its sourceIp is its own connection's peer.
      clientAddress: apiGatewaySourceIp,
      metrics,
      log,
    });
    const invoke = handle(app);
    return async (event, context) => {
      try {
        return await invoke(event, context as Parameters<typeof invoke>[1]);
      } finally {
        metrics.flush();
      }
    };
  },
);
