/**
 * The agents' CloudWatch client (PutMetricData, worker-agent/agent-metrics.ts), built with the same
 * endpoint, region, credentials, retries and deadline as the shared clients. It lives apart from
 * aws-clients.ts so that the Lambda bundles, which publish their metrics through their logs, do not
 * carry this SDK (the API bundle went over its size budget when they did).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { AwsClients } from './aws-clients';

/**
 * @example
 * const cloudwatch = cloudWatchClient(awsClients());
 * // …
 * cloudwatch.destroy();
 */
export function cloudWatchClient(clients: AwsClients): CloudWatchClient {
  return new CloudWatchClient(clients.settingsFor('cloudwatch'));
}
