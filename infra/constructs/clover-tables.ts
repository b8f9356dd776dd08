import { RemovalPolicy } from 'aws-cdk-lib';
import { type Attribute, AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  type IndexDefinition,
  type KeyAttribute,
  type AttributeType as KeyType,
  physicalName,
  projectionOf,
  type TableDefinition,
  type TableName,
} from '../resources';

export interface CloverTablesProps {
  /** The stage's resource prefix, e.g. `clover-dev`. */
  readonly prefix: string;
  /** The definitions to build, normally `tables` from infra/resources.ts. */
  readonly definitions: readonly TableDefinition[];
  /** Refuse DeleteTable while on (production stages). @default false */
  readonly deletionProtection?: boolean;
  /**
   * What CloudFormation does with a table when it leaves the stack. Tables hold every job, run and
   * alert, so they outlive the stack unless a throwaway stage says otherwise.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

const ATTRIBUTE_TYPES: Readonly<Record<KeyType, AttributeType>> = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
  B: AttributeType.BINARY,
};

/** Read actions on a table and its indexes. */
export const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;
/** Item writes. TransactWriteItems has no action of its own: each item needs the action it performs. */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
] as const;

const attribute = (key: KeyAttribute): Attribute => ({ name: key.name, type: ATTRIBUTE_TYPES[key.type] });

/**
 * One DynamoDB table per definition in infra/resources.ts: on-demand, point-in-time recovery on,
 * keys, global secondary indexes (projecting ALL) and TTL exactly as defined — the same definitions
 * `core/adapters/provision.ts` creates on an emulator, so the two cannot drift.
 *
 * @example
 * const tables = new CloverTables(this, 'Tables', { prefix: 'clover-dev', definitions: tables });
 * tables.table('runs').grantReadWriteData(fn);
 */
export class CloverTables extends Construct {
  private readonly byName = new Map<
    string,
    { readonly table: Table; readonly definition: TableDefinition }
  >();

  constructor(scope: Construct, id: string, props: CloverTablesProps) {
    super(scope, id);
    for (const definition of props.definitions) {
      if (this.byName.has(definition.logicalName)) {
        throw new Error(`table ${JSON.stringify(definition.logicalName)} is defined twice`);
      }
      const table = new Table(this, definition.logicalName, {
        tableName: physicalName(props.prefix, definition.logicalName),
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(definition.ttlAttribute ? { timeToLiveAttribute: definition.ttlAttribute } : {}),
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        deletionProtection: props.deletionProtection ?? false,
      });
      for (const index of definition.indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
          ...projection(index),
        });
      }
      this.byName.set(definition.logicalName, { table, definition });
    }
  }

  /** The table built from the definition named `name`; throws when the definitions lack it. */
  table(name: TableName): Table {
    return this.entry(name).table;
  }

  /**
   * The ARNs a policy names to reach the tables and each of their indexes, index by index (never
   * `index/*`), so a policy grants no index that a later definition adds without saying so.
   * @example tables.arns('runs') // [<runs ARN>, <runs ARN>/index/byJob, <runs ARN>/index/byOpenKeys, …]
   */
  arns(...names: TableName[]): string[] {
    return names.flatMap((name) => {
      const { table, definition } = this.entry(name);
      return [table.tableArn, ...definition.indexes.map((index) => `${table.tableArn}/index/${index.name}`)];
    });
  }

  /** `arns` of every table built, whatever its definitions (a role that reaches all of them: the API). */
  allArns(): string[] {
    return [...this.byName.values()].flatMap(({ table, definition }) => [
      table.tableArn,
      ...definition.indexes.map((index) => `${table.tableArn}/index/${index.name}`),
    ]);
  }

  /** Every table built, with the definition it was built from. */
  all(): ReadonlyArray<{ readonly table: Table; readonly definition: TableDefinition }> {
    return [...this.byName.values()];
  }

  private entry(name: TableName) {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`no table ${JSON.stringify(name)} among the definitions`);
    return entry;
  }
}

/** The CDK form of an index's projection (infra/resources.ts). */
function projection(index: IndexDefinition): {
  projectionType: ProjectionType;
  nonKeyAttributes?: string[];
} {
  const { type, attributes } = projectionOf(index);
  return {
    projectionType: ProjectionType[type],
    ...(attributes ? { nonKeyAttributes: [...attributes] } : {}),
  };
}
