/**
 * The management API Lambda (API Gateway HTTP API, payload v2). JWT routes are verified here against
 * the Cognito user pool (COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID; COGNITO_ISSUER instead of the pool id
 * names any issuer shaped like Cognito, whose JWKS is `<issuer>/.well-known/jwks.json`); the agents' declared-job route is
 * IAM-authorized by API Gateway (SigV4), which hands the verified caller in the request context.
 */
import { handle } from 'hono/aws-lambda';
import { awsClients } from '../../core/adapters/aws-clients';
import { controlPlane } from '../../core/adapters/control-plane';
import { functionLogger, readConfig, setRequestId } from '../config';
import { type EmfMetrics, emfMetrics } from '../metrics';
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

let defaultHandler: ReturnType<typeof handle> | undefined;
let metrics: EmfMetrics | undefined;

/** Built once per warm container: clients, stores and the JWKS cache are reused by warm invocations. */
export const handler: ReturnType<typeof handle> = async (event, context) => {
  setRequestId((context as { awsRequestId?: string } | undefined)?.awsRequestId);
  if (!defaultHandler) {
    const config = readConfig();
    const log = functionLogger(config, 'api');
    const {
      COGNITO_USER_POOL_ID: userPoolId,
      COGNITO_ISSUER: issuer,
      COGNITO_CLIENT_ID: clientId,
    } = process.env;
    if (!clientId || !(userPoolId || issuer))
      throw new Error('COGNITO_CLIENT_ID and COGNITO_USER_POOL_ID (or COGNITO_ISSUER) must be set');
    const plane = controlPlane({
      clients: awsClients(),
      prefix: config.CLOVER_PREFIX,
      log,
      ...(config.CLOVER_DISPATCHER_ARN ? { dispatcherArn: config.CLOVER_DISPATCHER_ARN } : {}),
      ...(config.CLOVER_SCHEDULER_ROLE_ARN ? { schedulerRoleArn: config.CLOVER_SCHEDULER_ROLE_ARN } : {}),
      ...(config.CLOVER_FIRES_DLQ_ARN ? { firesDeadLetterArn: config.CLOVER_FIRES_DLQ_ARN } : {}),
      endpointPolicy: { allowLoopback: config.CLOVER_WEBHOOK_ALLOW_LOOPBACK === '1' },
    });
    metrics = emfMetrics({ stage: config.CLOVER_PREFIX, fn: 'api' });
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
    defaultHandler = handle(app);
  }
  try {
    return await defaultHandler(event, context);
  } finally {
    metrics?.flush();
  }
};
