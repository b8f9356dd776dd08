import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyExistsError, NotFoundError } from '../../errors';
import { type Contact, ContactSpecSchema } from '../../model';
import type { ContactStore } from '../../ports';
import { uniqueId } from './fixtures';

export function sampleContact(overrides: Partial<Contact> = {}): Contact {
  return ContactSpecSchema.parse({
    contactId: uniqueId('c'),
    name: 'Ops on call',
    email: 'ops@example.com',
    ...overrides,
  });
}

/** The ContactStore contract: create-once, replace-existing, delete, list. */
export function contactStoreContract(
  name: string,
  makeSubject: () => Promise<{ contacts: ContactStore }>,
): void {
  describe(`ContactStore contract: ${name}`, () => {
    it('creates a contact once and reads it back', async () => {
      const { contacts } = await makeSubject();
      const contact = sampleContact({ alertKinds: ['failure', 'lost'], groups: ['billing'] });
      await contacts.create(contact);
      assert.deepEqual(await contacts.get(contact.contactId), contact);
      await assert.rejects(contacts.create(contact), AlreadyExistsError);
      assert.equal(await contacts.get(uniqueId('missing')), null);
    });

    it('replaces only an existing contact', async () => {
      const { contacts } = await makeSubject();
      const contact = sampleContact();
      await assert.rejects(contacts.replace(contact), NotFoundError);
      await contacts.create(contact);
      const changed = { ...contact, email: 'new@example.com', groups: [] };
      await contacts.replace(changed);
      assert.deepEqual(await contacts.get(contact.contactId), changed);
    });

    it('deletes and lists', async () => {
      const { contacts } = await makeSubject();
      const a = sampleContact();
      const b = sampleContact();
      await contacts.create(a);
      await contacts.create(b);
      const ids = (await contacts.list()).map((c) => c.contactId);
      assert.ok(ids.includes(a.contactId) && ids.includes(b.contactId));
      assert.equal(await contacts.delete(a.contactId), true);
      assert.equal(await contacts.delete(a.contactId), false);
      assert.equal(await contacts.get(a.contactId), null);
      assert.ok(!(await contacts.list()).some((c) => c.contactId === a.contactId));
    });
  });
}
