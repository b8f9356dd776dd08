/**
 * The stage the stack tests (infra/stack.test.ts over infra/stack/*.cases.ts) synthesize: a stack as
 * the app builds it, without bundling the Lambdas. Bundling installs snappy's linux-arm64 binary from
 * the npm registry, which unit tests must not need (`infra/synth.test.ts` runs the real `cdk synth`,
 * offline, the same way). Each configuration is its own module (base-stage.ts, full-stage.ts,
 * throwaway-stage.ts), synthesized once when first imported and shared by every assertion about it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { API_ENTRY, CloverStack, type CloverStackProps } from '../stack';

export const PREFIX = 'clover-test';
export const SENDER = 'Clover <clover@ops.example.org>';
/** The API handler when #12 has landed it; until then any handler module stands in (bundling is skipped). */
export const API_ENTRY_FOR_TESTS = existsSync(new URL(`../../${API_ENTRY}`, import.meta.url))
  ? API_ENTRY
  : 'functions/dispatcher/handler.ts';

/** The feature flags `npx cdk` applies from cdk.json, so these templates are the ones the CLI makes. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

export function synth(props: CloverStackProps = {}) {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new CloverStack(app, 'Clover', {
    prefix: PREFIX,
    alertFrom: SENDER,
    alarmEmail: 'oncall@example.org',
    apiEntry: null,
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}
