import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { AlreadyExistsError, NotFoundError } from '../errors';
import { type Contact, ContactSpecSchema } from '../model';
import type { ContactStore } from '../ports';
import { decodeItem, dynamoCall, Expr, type Item, marshalItem } from './dynamo-items';

export interface DynamoContactStoreOptions {
  readonly client: DynamoDBClient;
  /** Physical name of the contacts table (partition key `contactId`). */
  readonly table: string;
}

/**
 * Contacts in DynamoDB, one item per contact (the model's fields). Creation is conditional on the id
 * being new, replacement on it existing. Listing is a Scan: contacts number in the hundreds at most.
 *
 * @example
 * const contacts = new DynamoContactStore({ client: clients.dynamodb, table: physicalName(prefix, 'contacts') });
 */
export class DynamoContactStore implements ContactStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoContactStoreOptions) {
    this.client = options.client;
    this.table = options.table;
  }

  async get(contactId: string): Promise<Contact | null> {
    const out = await dynamoCall(`table ${this.table}`, () =>
      this.client.send(
        new GetItemCommand({ TableName: this.table, Key: key(contactId), ConsistentRead: true }),
      ),
    );
    return out.Item ? this.decode(out.Item) : null;
  }

  create(contact: Contact): Promise<void> {
    return this.put(contact, 'attribute_not_exists', () => {
      throw new AlreadyExistsError('contact', contact.contactId);
    });
  }

  replace(contact: Contact): Promise<void> {
    return this.put(contact, 'attribute_exists', () => {
      throw new NotFoundError('contact', contact.contactId);
    });
  }

  async delete(contactId: string): Promise<boolean> {
    const out = await dynamoCall(`table ${this.table}`, () =>
      this.client.send(
        new DeleteItemCommand({ TableName: this.table, Key: key(contactId), ReturnValues: 'ALL_OLD' }),
      ),
    );
    return out.Attributes !== undefined;
  }

  async list(): Promise<Contact[]> {
    const contacts: Contact[] = [];
    let startKey: Item | undefined;
    do {
      const page = await dynamoCall(`table ${this.table}`, () =>
        this.client.send(
          new ScanCommand({ TableName: this.table, ExclusiveStartKey: startKey, ConsistentRead: true }),
        ),
      );
      for (const item of page.Items ?? []) contacts.push(this.decode(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return contacts.sort((a, b) => a.contactId.localeCompare(b.contactId));
  }

  private async put(
    contact: Contact,
    condition: 'attribute_exists' | 'attribute_not_exists',
    onFailure: () => never,
  ): Promise<void> {
    const expr = new Expr();
    await dynamoCall(
      `table ${this.table}`,
      () =>
        this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: marshalItem(contact),
            ConditionExpression: `${condition}(${expr.name('contactId')})`,
            ...expr.params(),
          }),
        ),
      { conditionFailed: onFailure },
    );
  }

  private decode(item: Item): Contact {
    return decodeItem(ContactSpecSchema, item, this.table);
  }
}

function key(contactId: string): Item {
  return { contactId: { S: contactId } };
}
