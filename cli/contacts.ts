/** `clover contacts list|get|create|update|delete`: the people alerts go to. */
import { type ChannelChange, type ChannelType, ChannelTypes, type ContactView } from '../core/model';
import { type ActionDef, type Ctx, group, listPages, PAGE_HELP, PAGE_OPTIONS } from './command';
import { readObject } from './files';
import { EXIT_OK, UsageError } from './io';
import { type Column, formatFields } from './table';

const COLUMNS: readonly Column<ContactView>[] = [
  { header: 'CONTACT', value: (c) => c.contactId },
  { header: 'NAME', value: (c) => c.name, shrink: 12 },
  { header: 'EMAIL', value: (c) => c.email, shrink: 16 },
  { header: 'ALERTS', value: (c) => c.alertKinds.join(','), shrink: 12 },
  { header: 'GROUPS', value: (c) => c.groups.join(','), shrink: 12 },
  { header: 'SUBSCRIPTIONS', value: (c) => c.subscriptions.length, right: true },
  {
    header: 'CHANNELS',
    value: (c) => c.channels.map((ch) => `${ch.name}(${ch.type})`).join(','),
    shrink: 12,
  },
];

/** Secrets a write generated: printed once, as the API shows them once. */
function secretLines(c: ContactView): string[] {
  return c.channels.flatMap((ch) =>
    ch.secret ? [`${ch.type} ${ch.name} signing secret (shown once, store it now): ${ch.secret}`] : [],
  );
}

function formatContact(c: ContactView): string[] {
  const lines = formatFields([
    ['contact', c.contactId],
    ['name', c.name],
    ['email', c.email],
    ['alert kinds', c.alertKinds.join(', ')],
    ['groups', c.groups.join(', ')],
  ]);
  if (c.channels.length) {
    lines.push('channels:');
    for (const ch of c.channels) {
      lines.push(
        `  ${ch.name} (${ch.type}): ${ch.url}${ch.type === 'webhook' ? `  secret ${ch.secretSet ? 'set' : 'not set'}` : ''}`,
      );
    }
  }
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
  webhook: { type: 'string', multiple: true },
  slack: { type: 'string', multiple: true },
  teams: { type: 'string', multiple: true },
  file: { type: 'string', short: 'f' },
} as const;
const UPDATE_OPTIONS = {
  ...FIELD_OPTIONS,
  'remove-channel': { type: 'string', multiple: true },
  'rotate-secret': { type: 'string', multiple: true },
} as const;
const FIELD_HELP = `  -f, --file FILE  The contact as YAML or JSON (- for stdin); flags below override it
  --name NAME      Display name
  --email ADDRESS  Where alerts are mailed
  --kinds LIST     Alert kinds wanted, comma-separated: failure,recovery,timeout,lost,no_worker,job_unavailable,misfire,runaway
  --groups LIST    Job groups subscribed to, comma-separated
  --webhook NAME=URL  A signed JSON webhook channel (repeatable); Clover generates its secret and prints it once
  --slack NAME=URL    A Slack (or Slack-compatible) incoming webhook channel (repeatable)
  --teams NAME=URL    A Microsoft Teams Workflows webhook channel (repeatable)`;
const UPDATE_HELP = `${FIELD_HELP}
  --remove-channel NAME  Remove a channel (repeatable); channels not named stay as they are
  --rotate-secret NAME   Generate a new secret for a webhook channel and print it once (repeatable)`;

/** `--webhook pager=https://...` and friends, in flag order. */
function channelFlags(ctx: Ctx): ChannelChange[] {
  const out: ChannelChange[] = [];
  for (const type of ChannelTypes) {
    for (const spec of (ctx.values[type] as string[] | undefined) ?? []) {
      const at = spec.indexOf('=');
      if (at < 1) throw new UsageError(`--${type} takes NAME=URL, got ${JSON.stringify(spec)}`, ctx.command);
      out.push({ type, name: spec.slice(0, at), url: spec.slice(at + 1) });
    }
  }
  return out;
}

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
  const channels = channelFlags(ctx);
  if (channels.length) out.channels = channels;
  return out;
}

/**
 * An update's channels: the stored ones (by name, without URLs, so the API keeps them), minus
 * `--remove-channel`, with `--webhook/--slack/--teams` added or replacing by name, `--rotate-secret` marked.
 */
function updatedChannels(
  ctx: Ctx,
  current: ContactView,
  given: readonly ChannelChange[],
): ChannelChange[] | undefined {
  const removed = (ctx.values['remove-channel'] as string[] | undefined) ?? [];
  const rotated = (ctx.values['rotate-secret'] as string[] | undefined) ?? [];
  if (!given.length && !removed.length && !rotated.length) return undefined;
  const names = new Set(current.channels.map((c) => c.name));
  for (const name of [...removed, ...rotated]) {
    if (!names.has(name))
      throw new UsageError(`contact ${current.contactId} has no channel ${name}`, ctx.command);
  }
  const kept: ChannelChange[] = current.channels
    .filter((c) => !removed.includes(c.name) && !given.some((g) => g.name === c.name))
    .map((c) => ({ type: c.type as ChannelType, name: c.name }));
  return [...kept, ...given].map((c) =>
    rotated.includes(c.name) ? { ...c, rotateSecret: true as const } : c,
  );
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
    ctx.print(page, () => (page.items.length ? ctx.table(COLUMNS, page.items) : ['No contacts.']));
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
  synopsis:
    'CONTACT --name NAME --email ADDRESS [--kinds LIST] [--groups LIST] [--webhook|--slack|--teams NAME=URL]... | -f FILE',
  description:
    "Add a contact. Per-job and per-group subscriptions with their own alert kinds go in a file (subscriptions: [{jobId|group, alertKinds}]). Webhook and chat channels get the same alerts as the email (docs/alerts.md); a webhook's signing secret is printed once. Needs the admin role.",
  options: FIELD_OPTIONS,
  optionHelp: FIELD_HELP,
  examples: [
    "clover contacts create ana --name 'Ana Lima' --email ana@example.com --kinds failure,lost",
    'clover contacts create ops --name Ops --email ops@example.com --slack chat=https://hooks.slack.com/services/T0/B0/XXXX --webhook pager=https://alerts.example.com/clover',
  ],
  args: ['CONTACT'],
  async run(ctx) {
    const body = { ...fields(ctx), contactId: ctx.arg(0) } as Parameters<
      typeof ctx.client.call<'createContact'>
    >[1]['body'];
    const contact = await ctx.client.call('createContact', { body });
    ctx.print(contact, () => [`created contact ${contact.contactId}`, ...secretLines(contact)]);
    return EXIT_OK;
  },
};

const update: ActionDef = {
  name: 'update',
  summary: "change a contact's fields",
  synopsis:
    'CONTACT [--name NAME] [--email ADDRESS] [--kinds LIST] [--groups LIST] [--webhook|--slack|--teams NAME=URL]... [--remove-channel NAME]... [--rotate-secret NAME]... [-f FILE]',
  description:
    'Change the given fields of a contact; the others stay. Channel flags add or replace channels by name and keep the others. Needs the admin role.',
  options: UPDATE_OPTIONS,
  optionHelp: UPDATE_HELP,
  examples: [
    'clover contacts update ana --kinds failure,timeout,lost',
    'clover contacts update ops --teams team=https://prod-00.westus.logic.azure.com/workflows/... --rotate-secret pager',
  ],
  args: ['CONTACT'],
  async run(ctx) {
    const contactId = ctx.arg(0);
    const body = fields(ctx);
    const given = (body.channels as ChannelChange[] | undefined) ?? [];
    delete body.channels;
    const touchesChannels =
      ['remove-channel', 'rotate-secret'].some((k) => ctx.values[k] !== undefined) || given.length > 0;
    if (touchesChannels) {
      const current = await ctx.client.call('getContact', { params: { contactId } });
      const channels = updatedChannels(ctx, current, given);
      if (channels) body.channels = channels;
    }
    if (Object.keys(body).length === 0)
      throw new UsageError('nothing to change: give a flag or -f FILE', ctx.command);
    const contact = await ctx.client.call('updateContact', { params: { contactId }, body });
    ctx.print(contact, () => [`updated contact ${contact.contactId}`, ...secretLines(contact)]);
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
