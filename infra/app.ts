/**
 * The CDK app: one Clover stage per deploy, every setting read from context and checked first
 * (infra/settings.ts). A bad or missing setting prints one line per setting, naming it, and the app
 * exits non-zero before anything is synthesized. With the API on, the console is built first when
 * console/dist is missing or stale (functions/local/console-build.ts). cdk-nag's AWS Solutions checks run at synth; an
 * unacknowledged error fails synth, and every acknowledgement in infra/ carries its reason.
 *
 * @example
 * npx cdk synth -q -c stage=dev -c alerts=off
 * npx cdk deploy -c stage=prod -c alertFrom='Clover <clover@ops.example.com>' -c alarmEmail=oncall@example.com
 *
 * Settings (docs/deploy.md, "Settings"): stage, alerts, api, alertFrom, alarmEmail, sesIdentity,
 * sesConfigurationSet, deletionProtection, vpc, vpcSubnets, agentCidr, zmqPort, domainName,
 * certificateArn, monitorLoopSeconds, agents, curveKeyVersion.
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ValidationError } from '../core/errors';
import type { Logger } from '../core/log';
import { ensureConsoleBuilt } from '../functions/local/console-build';
import { StartError } from '../functions/local/startup';
import { readSettings, type StageSettings } from './settings';
import { CloverStack } from './stack';

// CLOVER_SYNTH_NO_BUNDLING=1 synthesizes without building the Lambda bundles (which fetch snappy's
// linux-arm64 binary from the npm registry): the offline synth of the test command. Never deploy it.
/** Progress lines for the person running `npx cdk`, beside CDK's own output on stderr. */
const stderrLogger: Logger = {
  log: (_level, message, fields) =>
    process.stderr.write(`Clover: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}\n`),
  child: () => stderrLogger,
};

const app = new App(
  process.env.CLOVER_SYNTH_NO_BUNDLING === '1' ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {},
);
let settings: StageSettings;
try {
  settings = readSettings((key) => app.node.tryGetContext(key));
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  process.stderr.write('Clover: synth refused; fix these settings (-c key=value or cdk.json "context"):\n');
  for (const issue of error.issues) process.stderr.write(`  ${issue.field}: ${issue.reason}\n`);
  process.exit(1);
}

// The console ships with the API: build it when console/dist is missing or older than its sources,
// as `npm start` does, so a first deploy serves the console rather than a "not built" page.
if (settings.api && process.env.CLOVER_SYNTH_NO_BUNDLING !== '1') {
  try {
    await ensureConsoleBuilt(stderrLogger);
  } catch (error) {
    if (!(error instanceof StartError)) throw error;
    process.stderr.write(`Clover: synth refused: ${error.message}\n`);
    process.exit(1);
  }
}

new CloverStack(app, settings.prefix, {
  prefix: settings.prefix,
  alerts: settings.alerts,
  ...(settings.api ? {} : { apiEntry: null }),
  ...(settings.alertFrom ? { alertFrom: settings.alertFrom } : {}),
  ...(settings.alarmEmail ? { alarmEmail: settings.alarmEmail } : {}),
  sesIdentity: settings.sesIdentity,
  ...(settings.sesConfigurationSet ? { sesConfigurationSet: settings.sesConfigurationSet } : {}),
  deletionProtection: settings.deletionProtection,
  // Data of a deletion-protected (production) stage outlives the stack; a dev stage's goes with it.
  dataRemovalPolicy: settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  vpc: settings.vpc,
  ...(settings.agentCidr ? { agentCidr: settings.agentCidr } : {}),
  zmqPort: settings.zmqPort,
  ...(settings.domain ? { domain: settings.domain } : {}),
  ...(settings.monitorLoopSeconds === undefined ? {} : { monitorLoopSeconds: settings.monitorLoopSeconds }),
  agents: settings.agents,
  curveKeyVersion: settings.curveKeyVersion,
  description: `Clover job scheduler, stage ${settings.prefix}`,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
