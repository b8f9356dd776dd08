import { RemovalPolicy } from 'aws-cdk-lib';
import { synth } from './synth';

/** A throwaway stage: alerts off, data deleted with the stack, an imported VPC, one sweep a minute. */
export const throwaway = synth({
  alerts: false,
  alertFrom: undefined,
  alarmEmail: undefined,
  dataRemovalPolicy: RemovalPolicy.DESTROY,
  monitorLoopSeconds: 0,
  vpc: { kind: 'import', vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] },
  agentCidr: '10.20.0.0/16',
});
