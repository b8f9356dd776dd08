import { Validations } from 'aws-cdk-lib';
import {
  FlowLogDestination,
  GatewayVpcEndpointAwsService,
  type ISubnet,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { VpcSetting } from '../settings';

export interface DispatcherNetworkProps {
  /** `new` builds a VPC for the dispatcher and the agents; `import` places the dispatcher in existing private subnets. */
  readonly vpc: Exclude<VpcSetting, { kind: 'none' }>;
  /** Where agents listen for ZeroMQ. @default the new VPC's CIDR (required with an imported VPC) */
  readonly agentCidr?: string;
  /** The agents' ZeroMQ port (their `zmq.bind`). @default 5555 */
  readonly zmqPort?: number;
}

/**
 * Where the dispatcher runs when ZeroMQ delivery is wanted: private subnets of a VPC that reaches
 * the agents' ZeroMQ ports. The dispatcher's security group admits nothing in and lets out only
 * HTTPS (the AWS APIs, through the NAT gateway or the VPC's endpoints) and the agents' ZeroMQ port
 * on their address range.
 *
 * A new VPC has two AZs, public and private subnets, one NAT gateway (the dispatcher's way to
 * DynamoDB, SQS and Secrets Manager; a gateway endpoint serves DynamoDB without it) and flow logs.
 * Agents run in its private subnets, or in networks routed to it.
 *
 * @example
 * const network = new DispatcherNetwork(this, 'Network', { vpc: { kind: 'new' } });
 */
export class DispatcherNetwork extends Construct {
  readonly vpc: IVpc;
  readonly subnets: readonly ISubnet[];
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: DispatcherNetworkProps) {
    super(scope, id);
    let agentCidr = props.agentCidr;
    if (props.vpc.kind === 'new') {
      const vpc = new Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 1,
        subnetConfiguration: [
          { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        ],
        flowLogs: { all: { destination: FlowLogDestination.toCloudWatchLogs() } },
        gatewayEndpoints: { dynamodb: { service: GatewayVpcEndpointAwsService.DYNAMODB } },
      });
      this.vpc = vpc;
      this.subnets = vpc.privateSubnets;
      agentCidr ??= vpc.vpcCidrBlock;
    } else {
      const { vpcId, subnetIds } = props.vpc;
      this.vpc = Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId,
        // Lambda takes subnet ids, never their zones: these only satisfy the import's shape.
        availabilityZones: subnetIds.map((_, i) => `zone-of-subnet-${i}`),
        privateSubnetIds: [...subnetIds],
      });
      this.subnets = this.vpc.privateSubnets;
      if (agentCidr === undefined) throw new Error('agentCidr is required with an imported vpc');
    }
    this.securityGroup = new SecurityGroup(this, 'DispatcherSecurityGroup', {
      vpc: this.vpc,
      description: 'Clover dispatcher: HTTPS to AWS APIs and ZeroMQ to the agents; nothing inbound',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      Peer.anyIpv4(),
      Port.tcp(443),
      'AWS APIs (DynamoDB, SQS, Secrets Manager) over HTTPS',
    );
    this.securityGroup.addEgressRule(
      Peer.ipv4(agentCidr),
      Port.tcp(props.zmqPort ?? 5555),
      "Agents' ZeroMQ ROUTER sockets (CURVE-authenticated)",
    );
    Validations.of(this.securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason:
        'The group has no inbound rule at all; its only anywhere rule is outbound HTTPS to the AWS API endpoints.',
    });
  }
}
