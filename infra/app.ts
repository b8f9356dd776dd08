/**
 * The CDK app: one Clover stage per deploy, named by `-c stage=<name>` (default `dev`), with
 * resource prefix `clover-<stage>`. cdk-nag's AWS Solutions checks run at synth; an unacknowledged
 * error fails synth, and every acknowledgement in infra/ carries its reason.
 *
 * @example
 * npx cdk synth -q                 # clover-dev
 * npx cdk deploy -c stage=prod     # clover-prod
 * npx cdk deploy -c stage=prod -c alertFrom='Clover <clover@ops.example.com>' -c consoleUrl=https://clover.example.com
 *
 * Context (cdk.json or -c): `stage`, `alertFrom`, `consoleUrl`, `monitorLoopSeconds`,
 * `sesConfigurationSet` — see CloverStackProps for what each does and its default.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stagePrefix } from './constructs/stage';
import { CloverStack } from './stack';

const app = new App();
const prefix = stagePrefix(app.node.tryGetContext('stage'));
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
};
const loop = context('monitorLoopSeconds');
new CloverStack(app, prefix, {
  prefix,
  alertFrom: context('alertFrom'),
  consoleUrl: context('consoleUrl'),
  monitorLoopSeconds: loop === undefined ? undefined : Number(loop),
  sesConfigurationSet: context('sesConfigurationSet'),
  description: `Clover job scheduler, stage ${prefix}`,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
