/** `clover contacts list|get|create|update|delete`: the people alerts go to. */
import type { Contact } from '../core/model';
import { type ActionDef, type Ctx, group, listPages, PAGE_HELP, PAGE_OPTIONS } from './command';
import { readObject } from './files';
import { EXIT_OK, UsageError } from './io';
import { type Column, formatFields, formatTable } from './table';

const COLUMNS: readonly Column<Contact>[] = [
  { header: 'CONTACT', value: (c) => c.contactId },
  { header: 'NAME', value: (c) => c.name },
  { header: 'EMAIL', value: (c) => c.email },
  { header: 'ALERTS', value: (c) => c.alertKinds.join(',') },
  { header: 'GROUPS', value: (c) => c.groups.join(',') },
  { header: 'SUBSCRIPTIONS', value: (c) => c.subscriptions.length, right: true },
];

function formatContact(c: Contact): string[] {
  const lines = formatFields([
    ['contact', c.contactId],
    ['name', c.name],
    ['email', c.email],
    ['alert kinds', c.alertKinds.join(', ')],
    ['groups', c.groups.join(', ')],
  ]);
  if (c.subscriptions.length) {
    lines.push('subscriptions:');
    for (const s of c.subscriptions) {
      lines.push(
        `  ${s.jobId !== undefined ? `job ${s.jobId}` : `group ${s.group}`}: ${s.alertKinds.join(', ')}`,
      );
    }
  }
  return lines;
}

const FIELD_OPTIONS = {
  name: { type: 'string' },
  email: { type: 'string' },
  kinds: { type: 'string' },
  groups: { type: 'string' },
  file: { type: 'string', short: 'f' },
} as const;
const FIELD_HELP = `  -f, --file FILE  The contact as YAML or JSON (- for stdin); flags below override it
  --name NAME      Display name
  --email ADDRESS  Where alerts are mailed
  --kinds LIST     Alert kinds wanted, comma-separated: failure,recovery,timeout,lost,no_worker,job_unavailable,misfire
  --groups LIST    Job groups subscribed to, comma-separated`;

function fields(ctx: Ctx): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const file = ctx.string('file');
  if (file !== undefined) Object.assign(out, readObject(file, 'contact', ctx.command));
  const list = (name: string) =>
    ctx
      .string(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  for (const [key, value] of [
    ['name', ctx.string('name')],
    ['email', ctx.string('email')],
    ['alertKinds', list('kinds')],
    ['groups', list('groups')],
  ] as const) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

const list: ActionDef = {
  name: 'list',
  summary: 'list contacts',
  synopsis: '',
  description: 'List contacts with their alert kinds, groups and subscriptions.',
  options: PAGE_OPTIONS,
  optionHelp: PAGE_HELP,
  args: [],
  async run(ctx) {
    const page = await listPages(ctx, 'listContacts', {});
    ctx.print(page, () => (page.items.length ? formatTable(COLUMNS, page.items) : ['No contacts.']));
    return EXIT_OK;
  },
};

const get: ActionDef = {
  name: 'get',
  summary: 'show one contact',
  synopsis: 'CONTACT',
  description: 'Show one contact with its subscriptions.',
  args: ['CONTACT'],
  async run(ctx) {
    const contact = await ctx.client.call('getContact', { params: { contactId: ctx.arg(0) } });
    ctx.print(contact, () => formatContact(contact));
    return EXIT_OK;
  },
};

const create: ActionDef = {
  name: 'create',
  summary: 'add a contact',
  synopsis: 'CONTACT --name NAME --email ADDRESS [--kinds LIST] [--groups LIST] | -f FILE',
  description:
    'Add a contact. Per-job and per-group subscriptions with their own alert kinds go in a file (subscriptions: [{jobId|group, alertKinds}]). Needs the admin role.',
  options: FIELD_OPTIONS,
  optionHelp: FIELD_HELP,
  examples: ["clover contacts create ana --name 'Ana Lima' --email ana@example.com --kinds failure,lost"],
  args: ['CONTACT'],
  async run(ctx) {
    const body = { ...fields(ctx), contactId: ctx.arg(0) } as Contact;
    const contact = await ctx.client.call('createContact', { body });
    ctx.print(contact, () => [`created contact ${contact.contactId}`]);
    return EXIT_OK;
  },
};

const update: ActionDef = {
  name: 'update',
  summary: "change a contact's fields",
  synopsis: 'CONTACT [--name NAME] [--email ADDRESS] [--kinds LIST] [--groups LIST] [-f FILE]',
  description: 'Change the given fields of a contact; the others stay. Needs the admin role.',
  options: FIELD_OPTIONS,
  optionHelp: FIELD_HELP,
  examples: ['clover contacts update ana --kinds failure,timeout,lost'],
  args: ['CONTACT'],
  async run(ctx) {
    const body = fields(ctx);
    if (Object.keys(body).length === 0)
      throw new UsageError('nothing to change: give a flag or -f FILE', ctx.command);
    const contact = await ctx.client.call('updateContact', { params: { contactId: ctx.arg(0) }, body });
    ctx.print(contact, () => [`updated contact ${contact.contactId}`]);
    return EXIT_OK;
  },
};

const del: ActionDef = {
  name: 'delete',
  summary: 'delete a contact',
  synopsis: 'CONTACT',
  description: 'Delete a contact. Needs the admin role.',
  args: ['CONTACT'],
  async run(ctx) {
    const contactId = ctx.arg(0);
    await ctx.client.call('deleteContact', { params: { contactId } });
    ctx.print({ deleted: contactId }, () => [`deleted contact ${contactId}`]);
    return EXIT_OK;
  },
};

export const contactsCommand = group(
  'contacts',
  'manage the people alerts go to',
  'Manage contacts: who is alerted, by which alert kinds, for which jobs and groups.',
  [list, get, create, update, del],
);
