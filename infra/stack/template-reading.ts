/** Reading a synthesized template: resources, CloudFormation values as text, IAM statements, alarm metrics. */
import assert from 'node:assert/strict';
import type { Template } from 'aws-cdk-lib/assertions';

export type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
export function onlyResourceIn(t: Template, type: string, props: Record<string, unknown> = {}): Resource {
  const found = Object.values(t.findResources(type, { Properties: props }) as Record<string, Resource>);
  assert.equal(
    found.length,
    1,
    `expected one ${type} matching ${JSON.stringify(props)}, found ${found.length}`,
  );
  return found[0]!;
}

/** A CloudFormation value as text: `Fn::Join` flattened, `{Ref: X}` as `<X>`, `{Fn::GetAtt: [X, Y]}` as `<X.Y>`. */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  return JSON.stringify(value);
}

/** The names of the SQS queues (or name patterns) a policy statement's Resource lists. */
export function queueNames(resource: unknown): string[] {
  return (
    (Array.isArray(resource) ? resource : [resource])
      .map(render)
      .filter((arn) => arn.includes(':sqs:'))
      // arn:partition:sqs:region:account:name — the name may hold a policy variable such as ${aws:PrincipalTag/x}.
      .map((arn) => arn.replace(/^.*?:sqs:(?:<AWS::Region>|[^:]*):(?:<AWS::AccountId>|[^:]*):/, ''))
  );
}

export type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
};
export const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesIn = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The tables (by logical name) the statements reach, and those they may write, with the write actions. */
export function tableAccess(statements: readonly Statement[]) {
  const reached = new Set<string>();
  const writes = new Map<string, Set<string>>();
  for (const statement of statements) {
    const tablesIn = new Set(
      resourcesIn(statement)
        .map(render)
        .flatMap((arn) => arn.match(/^<Tables([a-z]+)/)?.[1] ?? []),
    );
    for (const table of tablesIn) {
      reached.add(table);
      for (const action of actionsOf(statement)) {
        if (!/^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action)) continue;
        writes.set(table, (writes.get(table) ?? new Set()).add(action));
      }
    }
  }
  const written = Object.fromEntries(
    [...writes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([t, a]) => [t, [...a].sort()]),
  );
  return { reached: [...reached].sort(), written };
}

export const ALL_WRITES = ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

export type AlarmMetric = {
  Namespace: string;
  MetricName: string;
  Dimensions: Array<{ Name: string; Value: unknown }>;
};
/** The metrics an alarm watches: its own, or each of its math expression's (sorted dimensions). */
export function alarmMetrics(alarm: Record<string, unknown>): AlarmMetric[] {
  const p = alarm.Properties as Partial<AlarmMetric> & {
    Metrics?: Array<{ MetricStat?: { Metric: AlarmMetric } }>;
  };
  const all = p.Metrics
    ? p.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []))
    : [{ Namespace: p.Namespace!, MetricName: p.MetricName!, Dimensions: p.Dimensions ?? [] }];
  return all.map((m) => ({
    Namespace: m.Namespace,
    MetricName: m.MetricName,
    Dimensions: [...(m.Dimensions ?? [])].sort((a, b) => a.Name.localeCompare(b.Name)),
  }));
}
