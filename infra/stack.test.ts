/**
 * The CDK stack's template tests: GIVEN a configuration WHEN synthesized THEN the template holds what
 * the docs promise. The cases live by concern in infra/stack/*.cases.ts and run here, in one process,
 * because a process pays ~15 s of CPU to load aws-cdk-lib and make its first synth: eight files of
 * them took 143 s of CPU where this one takes 21 s. Each configuration (infra/stack/*-stage.ts) is
 * synthesized once, when a case file first imports it, and shared by every case about it.
 */
import './stack/data.cases';
import './stack/scheduling.cases';
import './stack/monitor-notifier.cases';
import './stack/whole-stage.cases';
import './stack/vpc.cases';
import './stack/agent-policy.cases';
import './stack/api-console.cases';
import './stack/alarms.cases';
