import { AlreadyExistsError, NotFoundError } from '../errors';
import { type Contact, ContactSpecSchema } from '../model';
import type { ContactStore } from '../ports';
import {
  DynamoTable,
  type DynamoTableOptions,
  decodeItem,
  Expr,
  type Item,
  marshalItem,
} from './dynamo-items';

/** `table`: the contacts table, partition key `contactId`. */
export type DynamoContactStoreOptions = DynamoTableOptions;

/**
 * Contacts in DynamoDB, one item per contact (the model's fields). Creation is conditional on the id
 * being new, replacement on it existing. Listing is a Scan: contacts number in the hundreds at most.
 *
 * @example
 * const contacts = new DynamoContactStore({ client: clients.dynamodb, table: physicalName(prefix, 'contacts') });
 */
export class DynamoContactStore implements ContactStore {
  private readonly table: DynamoTable;

  constructor(options: DynamoContactStoreOptions) {
    this.table = new DynamoTable(options);
  }

  async get(contactId: string): Promise<Contact | null> {
    const item = await this.table.get(key(contactId));
    return item ? this.decode(item) : null;
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
    const out = await this.table.delete({ Key: key(contactId), ReturnValues: 'ALL_OLD' });
    return out.Attributes !== undefined;
  }

  async list(): Promise<Contact[]> {
    const contacts = await this.table.readPages(
      () => ({ scan: { ConsistentRead: true } }),
      (item) => this.decode(item),
    );
    return contacts.sort((a, b) => a.contactId.localeCompare(b.contactId));
  }

  private async put(
    contact: Contact,
    condition: 'attribute_exists' | 'attribute_not_exists',
    onFailure: () => never,
  ): Promise<void> {
    const expr = new Expr();
    await this.table.put(
      {
        Item: marshalItem(contact),
        ConditionExpression: `${condition}(${expr.name('contactId')})`,
        ...expr.params(),
      },
      { conditionFailed: onFailure },
    );
  }

  /** @internal The API's paged reads (dynamo-api-reads.ts) decode with it too. */
  decode(item: Item): Contact {
    return decodeItem(ContactSpecSchema, item, this.table.name);
  }
}

function key(contactId: string): Item {
  return { contactId: { S: contactId } };
}
