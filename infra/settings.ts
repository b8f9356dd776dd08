/**
 * The deploy settings of one stage, read from CDK context (`-c key=value`, cdk.json or ~/.cdk.json)
 * and checked before anything is built: every bad or missing value is reported at once, each naming
 * its setting, and `infra/app.ts` synthesizes nothing when there is one.
 *
 * @example
 * const settings = readSettings((key) => app.node.tryGetContext(key));
 * new CloverStack(app, settings.prefix, stackPropsOf(settings));
 */
import { type FieldIssue, ValidationError } from '../core/errors';
import { MAX_PREFIX_LENGTH } from './resources';

/** Where the dispatcher runs: outside any VPC (ZeroMQ jobs go over SQS), in a new VPC, or in an existing one. */
export type VpcSetting =
  | { readonly kind: 'none' }
  | { readonly kind: 'new' }
  | { readonly kind: 'import'; readonly vpcId: string; readonly subnetIds: readonly string[] };

/** One worker agent the stack makes a queue for (and its pool's queue, for pools other than `default`). */
export interface AgentSetting {
  readonly workerId: string;
  readonly pool: string;
}

export interface StageSettings {
  readonly stage: string;
  /** `clover-<stage>`: the stack name and every resource's prefix. */
  readonly prefix: string;
  /** Whether alert mail is sent; off only for stages nobody is paged for. */
  readonly alerts: boolean;
  /** Whether the API, Cognito and the console are deployed (off for LocalStack Community, which lacks them). */
  readonly api: boolean;
  readonly alertFrom?: string;
  readonly alarmEmail?: string;
  /** `create` makes the SES identity of alertFrom's address; `import` uses one verified outside the stack. */
  readonly sesIdentity: 'create' | 'import';
  readonly sesConfigurationSet?: string;
  readonly deletionProtection: boolean;
  readonly vpc: VpcSetting;
  /** Where agents listen for ZeroMQ (the dispatcher's security group allows egress there). */
  readonly agentCidr?: string;
  readonly zmqPort: number;
  readonly domain?: { readonly name: string; readonly certificateArn: string };
  readonly monitorLoopSeconds?: number;
  readonly agents: readonly AgentSetting[];
  /** Raise it to generate a new dispatcher CURVE key pair on the next deploy (docs/deploy.md, "Rotation"). */
  readonly curveKeyVersion: number;
}

/** Stage names: lowercase because Cognito's hosted-UI domain prefix allows nothing else. */
const STAGE = /^[a-z][a-z0-9-]*$/;
const MAX_STAGE = 20;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const SENDER = /^(?:[^<>]*<([^<>\s]+)>|([^<>\s]+))$/;
const VPC_ID = /^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[0-9a-f-]{36}$/;
/** Queue-safe as is (no hashing, infra/resources.ts workerQueueName), so the agent policy can name `worker-<id>` from a tag. */
const WORKER_ID = /^[A-Za-z0-9_-]{1,32}$/;
const POOL = /^[A-Za-z0-9_-]{1,30}$/;

/** Stages whose tables are deletion-protected unless `-c deletionProtection=false` says otherwise. */
const PRODUCTION_STAGE = /^prod(?:uction)?(?:-|$)/;

/**
 * Reads and checks every setting. Throws one ValidationError listing each bad setting by its
 * context key (`stage: required ...; alertFrom: ...`); returns frozen settings otherwise.
 */
export function readSettings(context: (key: string) => unknown): StageSettings {
  const issues: FieldIssue[] = [];
  const bad = (field: string, reason: string) => {
    issues.push({ field, reason });
    return undefined;
  };
  const text = (key: string): string | undefined => {
    const value = context(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return bad(key, `must be a string, got ${JSON.stringify(value)}`);
    }
    return String(value).trim();
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = text(key);
    if (value === undefined) return fallback;
    if (['true', 'on', 'yes'].includes(value)) return true;
    if (['false', 'off', 'no'].includes(value)) return false;
    bad(key, `must be true or false, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const integer = (key: string, min: number, max: number): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      return bad(key, `must be an integer ${min}-${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };

  const stage = text('stage');
  if (stage === undefined) bad('stage', 'is required: name the stage to deploy, e.g. -c stage=dev');
  else if (stage.length > MAX_STAGE || !STAGE.test(stage)) {
    bad(
      'stage',
      `${JSON.stringify(stage)} must be 1-${MAX_STAGE} lowercase letters, digits and "-", starting with a letter`,
    );
  }

  const alerts = flag('alerts', true);
  const alertFrom = text('alertFrom');
  if (alertFrom !== undefined && senderAddressOf(alertFrom) === undefined) {
    bad(
      'alertFrom',
      `${JSON.stringify(alertFrom)} is not an email address (alerts@example.com or "Clover <alerts@example.com>")`,
    );
  } else if (alertFrom === undefined && alerts) {
    bad('alertFrom', 'is required while alerts are on: the SES sender of alert mail (or -c alerts=off)');
  }
  const alarmEmail = text('alarmEmail');
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) {
    bad('alarmEmail', `${JSON.stringify(alarmEmail)} is not an email address`);
  } else if (alarmEmail === undefined && alerts) {
    bad('alarmEmail', 'is required while alerts are on: who the CloudWatch alarms mail (or -c alerts=off)');
  }
  const sesIdentity = text('sesIdentity') ?? 'create';
  if (sesIdentity !== 'create' && sesIdentity !== 'import') {
    bad('sesIdentity', `must be "create" or "import", got ${JSON.stringify(sesIdentity)}`);
  }

  const vpc = readVpc(text('vpc'), text('vpcSubnets'), bad);
  const agentCidr = text('agentCidr');
  if (agentCidr !== undefined && !isCidr(agentCidr)) {
    bad('agentCidr', `${JSON.stringify(agentCidr)} is not an IPv4 CIDR block such as 10.0.0.0/16`);
  }
  if (vpc.kind === 'import' && agentCidr === undefined) {
    bad('agentCidr', "is required with an imported vpc: the agents' address range the dispatcher may reach");
  }

  const domainName = text('domainName');
  const certificateArn = text('certificateArn');
  if (domainName !== undefined && !DOMAIN.test(domainName)) {
    bad(
      'domainName',
      `${JSON.stringify(domainName)} is not a lowercase domain name such as clover.example.com`,
    );
  }
  if (certificateArn !== undefined && !ACM_ARN.test(certificateArn)) {
    bad(
      'certificateArn',
      `${JSON.stringify(certificateArn)} is not an ACM certificate ARN in us-east-1 (CloudFront's region)`,
    );
  }
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    bad(
      domainName === undefined ? 'domainName' : 'certificateArn',
      'is required with the other of domainName and certificateArn',
    );
  }

  const agents = readAgents(text('agents'), bad);
  const settings: StageSettings = {
    stage: stage ?? '',
    prefix: `clover-${stage ?? ''}`,
    alerts,
    api: flag('api', true),
    ...(alertFrom !== undefined ? { alertFrom } : {}),
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    sesIdentity: sesIdentity === 'import' ? 'import' : 'create',
    ...optional('sesConfigurationSet', text('sesConfigurationSet')),
    deletionProtection: flag('deletionProtection', PRODUCTION_STAGE.test(stage ?? '')),
    vpc,
    ...(agentCidr !== undefined ? { agentCidr } : {}),
    zmqPort: integer('zmqPort', 1, 65_535) ?? 5555,
    ...(domainName !== undefined && certificateArn !== undefined
      ? { domain: { name: domainName, certificateArn } }
      : {}),
    ...optional('monitorLoopSeconds', integer('monitorLoopSeconds', 0, 60)),
    agents,
    curveKeyVersion: integer('curveKeyVersion', 1, 1_000_000) ?? 1,
  };
  if (issues.length > 0) throw new ValidationError(issues);
  // `clover-` + 20 characters is well inside the resource prefix limit.
  if (settings.prefix.length > MAX_PREFIX_LENGTH) throw ValidationError.field('stage', 'is too long');
  return Object.freeze(settings);
}

/** `alerts@example.com` out of `alerts@example.com` or `Name <alerts@example.com>`, or undefined. */
export function senderAddressOf(from: string): { address: string; domain: string } | undefined {
  const match = SENDER.exec(from.trim());
  const address = match?.[1] ?? match?.[2];
  if (!address || !EMAIL.test(address)) return undefined;
  return { address, domain: address.slice(address.lastIndexOf('@') + 1) };
}

function readVpc(
  vpc: string | undefined,
  subnets: string | undefined,
  bad: (field: string, reason: string) => undefined,
): VpcSetting {
  if (vpc === undefined || vpc === 'none') {
    if (subnets !== undefined) bad('vpcSubnets', 'is only used with -c vpc=vpc-...');
    return { kind: 'none' };
  }
  if (vpc === 'new') {
    if (subnets !== undefined) bad('vpcSubnets', 'is only used with an imported vpc, not vpc=new');
    return { kind: 'new' };
  }
  if (!VPC_ID.test(vpc)) {
    bad('vpc', `${JSON.stringify(vpc)} is not "new", "none" or a VPC id such as vpc-0123456789abcdef0`);
    return { kind: 'none' };
  }
  const subnetIds = (subnets ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (subnetIds.length === 0) {
    bad('vpcSubnets', 'is required with an imported vpc: comma-separated private subnet ids (subnet-...)');
  }
  for (const id of subnetIds) {
    if (!SUBNET_ID.test(id))
      bad('vpcSubnets', `${JSON.stringify(id)} is not a subnet id such as subnet-0123456789abcdef0`);
  }
  return { kind: 'import', vpcId: vpc, subnetIds };
}

/** `host-1@default,host-2@gpu`: each worker id with its pool (`@pool` may be left out for `default`). */
function readAgents(
  value: string | undefined,
  bad: (field: string, reason: string) => undefined,
): AgentSetting[] {
  if (value === undefined) return [];
  const agents: AgentSetting[] = [];
  const seen = new Set<string>();
  for (const entry of value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)) {
    const at = entry.lastIndexOf('@');
    const workerId = at < 0 ? entry : entry.slice(0, at);
    const pool = at < 0 ? 'default' : entry.slice(at + 1);
    if (!WORKER_ID.test(workerId)) {
      bad(
        'agents',
        `worker id ${JSON.stringify(workerId)} must be 1-32 of letters, digits, "_" and "-" (it names the queue worker-<id> as is)`,
      );
      continue;
    }
    if (!POOL.test(pool)) {
      bad(
        'agents',
        `pool ${JSON.stringify(pool)} of ${workerId} must be 1-30 of letters, digits, "_" and "-"`,
      );
      continue;
    }
    if (seen.has(workerId)) {
      bad('agents', `worker id ${JSON.stringify(workerId)} is listed twice`);
      continue;
    }
    seen.add(workerId);
    agents.push({ workerId, pool });
  }
  return agents;
}

function isCidr(value: string): boolean {
  const m = CIDR.exec(value);
  if (!m) return false;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) && Number(m[5]) <= 32;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
