/** Reading Clover's metrics back from the emulator's CloudWatch (the agents' PutMetricData). */
import { type CloudWatchClient, type Dimension, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { METRIC_NAMESPACE } from '../../infra/resources';

/** The statistics of one metric over the last hour, summed (SampleCount, Sum) or extreme (Minimum, Maximum) over its points. */
export async function readMetric(
  client: CloudWatchClient,
  name: string,
  dimensions: Dimension[],
): Promise<{ samples: number; sum: number; min: number; max: number }> {
  const stats = ['SampleCount', 'Sum', 'Minimum', 'Maximum'] as const;
  const out = await client.send(
    new GetMetricDataCommand({
      StartTime: new Date(Date.now() - 3_600_000),
      EndTime: new Date(Date.now() + 60_000),
      MetricDataQueries: stats.map((stat, i) => ({
        Id: `m${i}`,
        MetricStat: {
          Metric: { Namespace: METRIC_NAMESPACE, MetricName: name, Dimensions: dimensions },
          Period: 60,
          Stat: stat,
        },
      })),
    }),
  );
  const values = (i: number) => out.MetricDataResults?.find((r) => r.Id === `m${i}`)?.Values ?? [];
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    samples: sum(values(0)),
    sum: sum(values(1)),
    min: Math.min(...values(2)),
    max: Math.max(...values(3)),
  };
}
