/** The smallest stage (no API, no VPC), synthesized when first imported, and what reads its template. */
import assert from 'node:assert/strict';
import type { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { synth } from './synth';
import { onlyResourceIn, type Resource, type Statement } from './template-reading';

/** The smallest stage: no API, no VPC. */
export const { stack, template } = synth({
  consoleUrl: 'https://clover.example.org',
  sesConfigurationSet: 'clover-mail',
});
export const ref = (value: string) => stack.resolve(value);

export const resourcesOf = (type: string) => template.findResources(type) as Record<string, Resource>;
export const onlyResource = (type: string, props: Record<string, unknown> = {}): Resource =>
  onlyResourceIn(template, type, props);
/** The dashboard's widgets, with the body's tokens (function names, the region) rendered as `<token>`. */
export function dashboardWidgets(): Array<{ properties: { title: string; metrics: unknown[][] } }> {
  const body = onlyResource('AWS::CloudWatch::Dashboard').Properties.DashboardBody as {
    'Fn::Join': [string, unknown[]];
  };
  const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<token>')).join('');
  return (JSON.parse(text) as { widgets: ReturnType<typeof dashboardWidgets> }).widgets;
}

/** The statements of the inline policy CDK attaches to `role` (its DefaultPolicy), in `config`. */
export function roleStatements(
  role: { roleName: string },
  config: { stack: Stack; template: Template } = { stack, template },
): Statement[] {
  const found = Object.values(
    config.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [config.stack.resolve(role.roleName)] },
    }) as Record<string, Resource>,
  );
  assert.equal(
    found.length,
    1,
    `one inline policy for ${JSON.stringify(config.stack.resolve(role.roleName))}`,
  );
  return (found[0]!.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}
