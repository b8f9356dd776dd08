/**
 * What a stage bills whether or not it fires anything, counted from its synthesized CloudFormation
 * template (and, for the metrics the Lambdas publish, from their code): the one source of the fixed
 * items in the bench's cost figures (bench/costs.ts) and so of docs/deploy.md's "What it costs".
 *
 * @example
 * const inventory = stageInventory(stageTemplate());
 * inventory.alarmMetrics; // each metric an alarm reads: a metric-math alarm bills every one
 */
import { readFileSync } from 'node:fs';
import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { silentLogger } from '../core/log';
import type { SweepReport } from '../core/monitor';
import { isPlannerRequest } from '../core/planner';
import { emfMetrics } from '../functions/metrics';
import { makeMonitorHandler } from '../functions/monitor/handler';
import { FIRE_OUTCOMES } from '../infra/constructs/observability';
import { CloverStack, type CloverStackProps } from '../infra/stack';

type Resource = { readonly Type: string; readonly Properties?: Record<string, unknown> };
export interface TemplateJson {
  readonly Resources: Readonly<Record<string, Resource>>;
}

export interface StageInventory {
  /** CloudWatch alarms, and the metrics they read (a metric-math alarm is billed per metric). */
  readonly alarms: number;
  readonly alarmMetrics: number;
  readonly dashboards: number;
  readonly secrets: number;
  readonly natGateways: number;
  /** Elastic IPs: each is a public IPv4 address billed by the hour. */
  readonly publicIpv4: number;
  /** Custom metrics an idle sweep publishes (each only when not zero: none at idle), so billed every hour of an idle stage. */
  readonly idleCustomMetrics: number;
  /** Custom metrics the dispatcher adds while fires run: one per fire outcome, and the lateness. */
  readonly firingCustomMetrics: number;
  /** SQS event sources of Lambdas (the notifier's alerts queue): Lambda's pollers long-poll them all the time. */
  readonly sqsEventSources: number;
  readonly monitor: {
    readonly invocationsPerMonth: number;
    /** Billed seconds of an idle invocation: one sweep (it watches only while runs are in flight). */
    readonly secondsPerInvocation: number;
    /** While watching: a sweep every `loopSeconds` for up to `runSeconds` of each invocation. */
    readonly loopSeconds: number;
    readonly runSeconds: number;
    readonly gb: number;
    /** Sweeps of an idle stage: one per invocation. */
    readonly sweepsPerMonth: number;
    /** Bytes of the EMF lines an idle sweep writes (measured from the handler's own output). */
    readonly bytesPerSweep: number;
  };
  /** The precise-jobs planner's schedule: each invocation is a dispatcher invocation (a pass). */
  readonly planner: { readonly invocationsPerMonth: number };
  readonly dispatcherGb: number;
  /** Whether the dispatcher keeps Lambda's START and REPORT lines (its system log level is not WARN). */
  readonly dispatcherPlatformLines: boolean;
  /** The share of dispatcher invocations Powertools logs at debug (POWERTOOLS_LOGGER_SAMPLE_RATE). */
  readonly dispatcherLogSampleRate: number;
}

/** A 30-day month, as every monthly figure here. */
export const MINUTES_PER_MONTH = 30 * 24 * 60;
/** What one idle invocation is billed: one sweep (a warm sweep of an idle stage takes well under it). */
const SINGLE_SWEEP_SECONDS = 1;

/** The stage docs/deploy.md's first deploy makes: alerts on, the API and console, no VPC, no agents. */
export const DOCUMENTED_STAGE: CloverStackProps = {
  prefix: 'clover-prod',
  alertFrom: 'Clover <clover@ops.example.com>',
  alarmEmail: 'oncall@example.com',
  consoleAssets: null,
};

/** The template of a stage as `npx cdk synth` makes it (cdk.json's flags), without building the Lambdas. */
export function stageTemplate(props: CloverStackProps = DOCUMENTED_STAGE): TemplateJson {
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new CloverStack(app, 'Clover', props);
  return Template.fromStack(stack).toJSON() as TemplateJson;
}

/** Counts what bills idle in `template`; throws when the monitor or dispatcher cannot be found. */
export async function stageInventory(template: TemplateJson): Promise<StageInventory> {
  const resources = Object.values(template.Resources);
  const ofType = (type: string) => resources.filter((r) => r.Type === type);
  const alarms = ofType('AWS::CloudWatch::Alarm');
  const alarmMetrics = alarms.reduce((sum, alarm) => {
    const metrics = alarm.Properties?.Metrics as Array<{ MetricStat?: unknown }> | undefined;
    return sum + (metrics ? metrics.filter((m) => m.MetricStat !== undefined).length : 1);
  }, 0);
  const functions = ofType('AWS::Lambda::Function');
  const withEnv = (name: string) => {
    const fn = functions.find((f) => envOf(f)[name] !== undefined);
    if (!fn) throw new Error(`the template has no Lambda with ${name} in its environment`);
    return fn;
  };
  const monitorFn = withEnv('CLOVER_MONITOR_LOOP_SECONDS');
  const env = envOf(monitorFn);
  const loopSeconds = Number(env.CLOVER_MONITOR_LOOP_SECONDS);
  const runSeconds = Number(env.CLOVER_MONITOR_RUN_SECONDS ?? 55);
  const rule = ofType('AWS::Events::Rule').find((r) => r.Properties?.ScheduleExpression !== undefined);
  const invocationsPerMonth = MINUTES_PER_MONTH / ruleMinutes(String(rule?.Properties?.ScheduleExpression));
  const plannerSchedule = ofType('AWS::Scheduler::Schedule').find((r) => {
    const input = (r.Properties?.Target as { Input?: unknown } | undefined)?.Input;
    return typeof input === 'string' && isPlannerRequest(JSON.parse(input));
  });
  if (!plannerSchedule) throw new Error('the template has no planner schedule');
  const dispatcherFn = functions.find((f) => String(f.Properties?.FunctionName).endsWith('-dispatcher'));
  if (!dispatcherFn) throw new Error('the template has no dispatcher Lambda');
  const idleSweep = await idleSweepLines();
  return {
    alarms: alarms.length,
    alarmMetrics,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    secrets: ofType('AWS::SecretsManager::Secret').length,
    natGateways: ofType('AWS::EC2::NatGateway').length,
    publicIpv4: ofType('AWS::EC2::EIP').length,
    idleCustomMetrics: idleSweep.metrics,
    firingCustomMetrics: FIRE_OUTCOMES.length + 1,
    sqsEventSources: ofType('AWS::Lambda::EventSourceMapping').length,
    monitor: {
      invocationsPerMonth,
      secondsPerInvocation: SINGLE_SWEEP_SECONDS,
      loopSeconds,
      runSeconds,
      gb: Number(monitorFn.Properties?.MemorySize) / 1024,
      sweepsPerMonth: invocationsPerMonth,
      bytesPerSweep: idleSweep.bytes,
    },
    planner: {
      invocationsPerMonth:
        MINUTES_PER_MONTH / ruleMinutes(String(plannerSchedule.Properties?.ScheduleExpression)),
    },
    dispatcherGb: Number(dispatcherFn.Properties?.MemorySize) / 1024,
    dispatcherPlatformLines:
      (dispatcherFn.Properties?.LoggingConfig as { SystemLogLevel?: string } | undefined)?.SystemLogLevel !==
      'WARN',
    dispatcherLogSampleRate: Number(envOf(dispatcherFn).POWERTOOLS_LOGGER_SAMPLE_RATE ?? 0),
  };
}

function envOf(fn: Resource): Record<string, unknown> {
  return ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
    {}) as Record<string, unknown>;
}

/** Minutes between invocations of `rate(N minute[s])` (the monitor's rule, the planner's schedule); anything else is refused by name. */
function ruleMinutes(expression: string): number {
  const match = /^rate\((\d+) minutes?\)$/.exec(expression);
  if (!match) throw new Error(`the schedule ${JSON.stringify(expression)} is not rate(N minutes)`);
  return Duration.minutes(Number(match[1])).toMinutes();
}

/** What one idle sweep writes (bytes) and how many custom metrics it publishes, from the monitor handler itself. */
async function idleSweepLines(): Promise<{ readonly bytes: number; readonly metrics: number }> {
  const lines: string[] = [];
  const idle = Object.fromEntries(
    ['jobsWithoutLiveWorker', 'runsRecovered', 'runsLost', 'runsTimedOut', 'runsResent', 'workersExpired']
      .concat(['misfiresSkipped', 'catchUpFires', 'deadLettersDrained', 'inFlight'])
      .map((k) => [k, 0]),
  );
  await makeMonitorHandler({
    monitor: { sweep: async () => ({ ...idle, errors: [] }) as unknown as SweepReport },
    log: silentLogger,
    loopSeconds: 0,
    metrics: emfMetrics({ stage: 'clover-prod', fn: 'monitor', write: (line) => lines.push(line) }),
  })();
  const names = new Set(
    lines.flatMap((line) =>
      (
        JSON.parse(line) as { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> } }
      )._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name)),
    ),
  );
  return { bytes: lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0), metrics: names.size };
}
