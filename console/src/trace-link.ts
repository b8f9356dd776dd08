/**
 * Where a run's trace can be seen: one trace per fire (docs/architecture.md, "Following a fire"), its
 * id in X-Ray's form on the run record. A deployed stage traces its Lambdas with X-Ray, whose traces
 * AWS shows in the CloudWatch console under "X-Ray traces"
 * (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-traces.html). The link opens one
 * trace there: `https://<region>.console.aws.amazon.com/cloudwatch/home?region=<region>#xray:traces/<id>`,
 * CloudWatch's counterpart of the X-Ray console's documented deep link `xray/home?region=<region>#/traces/<id>`
 * (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-deeplinks.html). The commercial
 * partition's console only: China and GovCloud have consoles of their own.
 */
import type { ConsoleConfig } from './config';

/** The trace's page in the stage's region; undefined when the console is not deployed (no `region`). */
export function traceUrl(config: Pick<ConsoleConfig, 'region'>, traceId: string): string | undefined {
  const { region } = config;
  if (!region) return undefined;
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#xray:traces/${encodeURIComponent(traceId)}`;
}
