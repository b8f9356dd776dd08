import { type FormEvent, useState } from 'react';
import { ALL_KINDS, KINDS } from '../alert-kinds';
import { ApiError } from '../api/client';
import { useCan, useContacts, useDeleteContact, useSaveContact } from '../api/hooks';
import type { AlertKind, ChannelChange, ChannelType, ContactView, Subscription } from '../api/types';
import { useDraft } from '../auth/drafts';
import { Badge, ConfirmButton, Empty, ErrorBox, MutationError, QueryView } from '../components/ui';

const CHANNEL_TYPES: Readonly<Record<ChannelType, string>> = {
  webhook: 'Webhook (signed JSON)',
  slack: 'Slack',
  teams: 'Microsoft Teams',
};

/** People to alert, what they want to hear about, and the job groups they follow. */
export default function Contacts() {
  const contacts = useContacts();
  const canEdit = useCan('admin');
  const remove = useDeleteContact();
  const [editing, setEditing] = useState<ContactView | 'new' | undefined>();
  // Webhook secrets a save generated: the API shows them in that one response only.
  const [secrets, setSecrets] = useState<ContactView | undefined>();
  return (
    <section>
      <div className="page-head">
        <h1>Contacts</h1>
        {canEdit && !editing && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New contact
          </button>
        )}
      </div>
      {secrets && (
        <div className="card secret-notice" role="status">
          <h2>Store the signing secret now</h2>
          <p>Clover shows a webhook's secret once; receivers verify the Clover-Signature header with it.</p>
          {secrets.channels
            .filter((c) => c.secret)
            .map((c) => (
              <p key={c.name}>
                {secrets.name} · {c.name}: <code>{c.secret}</code>
              </p>
            ))}
          <button type="button" onClick={() => setSecrets(undefined)}>
            I have stored it
          </button>
        </div>
      )}
      {editing && (
        <ContactForm
          existing={editing === 'new' ? undefined : editing}
          onDone={(saved) => {
            setEditing(undefined);
            if (saved?.channels.some((c) => c.secret)) setSecrets(saved);
          }}
        />
      )}
      <MutationError error={remove.error} />
      <QueryView query={contacts} what="contacts">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>
              No contacts yet. Jobs alert the contacts they name and those subscribed to their group.
            </Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Contact</th>
                    <th scope="col">Email</th>
                    <th scope="col">Alert kinds</th>
                    <th scope="col">Groups</th>
                    <th scope="col">Subscriptions</th>
                    <th scope="col">Channels</th>
                    {canEdit && (
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((c) => (
                    <tr key={c.contactId}>
                      <td>
                        {c.name} <div className="muted small">{c.contactId}</div>
                      </td>
                      <td>{c.email}</td>
                      <td>
                        {c.alertKinds.length === ALL_KINDS.length
                          ? 'all'
                          : c.alertKinds.map((k) => <Badge key={k}>{KINDS[k]}</Badge>)}
                      </td>
                      <td>{c.groups.join(', ') || '—'}</td>
                      <td className="small">
                        {c.subscriptions.length === 0
                          ? '—'
                          : c.subscriptions.map((sub) => (
                              <div key={`${sub.jobId ?? ''}/${sub.group ?? ''}`}>
                                {sub.jobId ? `job ${sub.jobId}` : `group ${sub.group}`}:{' '}
                                {sub.alertKinds.length === ALL_KINDS.length
                                  ? 'all'
                                  : sub.alertKinds.join(', ')}
                              </div>
                            ))}
                      </td>
                      <td className="small">
                        {c.channels.length === 0
                          ? '—'
                          : c.channels.map((ch) => (
                              <div key={ch.name}>
                                {ch.name} <Badge>{ch.type}</Badge>{' '}
                                <span className="muted">
                                  {ch.url}
                                  {ch.type === 'webhook'
                                    ? ch.secretSet
                                      ? ' · secret set'
                                      : ' · no secret'
                                    : ''}
                                </span>
                              </div>
                            ))}
                      </td>
                      {canEdit && (
                        <td className="actions">
                          <button type="button" onClick={() => setEditing(c)}>
                            Edit
                          </button>
                          <ConfirmButton
                            label="Delete"
                            danger
                            title={`Delete ${c.name}?`}
                            body={<p>Jobs that name this contact stop alerting them.</p>}
                            confirmLabel="Delete the contact"
                            onConfirm={() => remove.mutate(c.contactId)}
                          />
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryView>
    </section>
  );
}

function ContactForm({
  existing,
  onDone,
}: {
  existing?: ContactView;
  onDone: (saved?: ContactView) => void;
}) {
  const draftKey = `contact:${existing?.contactId ?? 'new'}`;
  const [form, setForm, clearDraft] = useDraft(draftKey, () => ({
    contactId: existing?.contactId ?? '',
    name: existing?.name ?? '',
    email: existing?.email ?? '',
    alertKinds: existing?.alertKinds ?? ALL_KINDS,
    groups: existing?.groups.join(', ') ?? '',
    subscriptions: (existing?.subscriptions ?? []).map(toRow),
    channels: (existing?.channels ?? []).map(
      (c): ChannelRow => ({ type: c.type, name: c.name, url: '', stored: c.url, rotate: false }),
    ),
  }));
  const save = useSaveContact(existing?.contactId);
  const error = save.error instanceof ApiError ? save.error : undefined;
  const fieldError = (path: string) => error?.fields.find((f) => f.path === path)?.message;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(
      {
        contactId: form.contactId.trim(),
        name: form.name,
        email: form.email.trim(),
        alertKinds: form.alertKinds,
        groups: form.groups
          .split(/[\s,]+/)
          .map((g) => g.trim())
          .filter(Boolean),
        subscriptions: form.subscriptions.map(fromRow),
        channels: form.channels.map(fromChannelRow),
      },
      {
        onSuccess: (saved) => {
          clearDraft();
          onDone(saved);
        },
      },
    );
  };
  const cancel = () => {
    clearDraft();
    onDone();
  };
  const input = (
    name: 'contactId' | 'name' | 'email' | 'groups',
    label: string,
    path: string,
    type = 'text',
  ) => (
    <div className={`field${fieldError(path) ? ' invalid' : ''}`}>
      <label htmlFor={`contact-${name}`}>{label}</label>
      <input
        id={`contact-${name}`}
        type={type}
        readOnly={name === 'contactId' && Boolean(existing)}
        value={form[name]}
        aria-describedby={fieldError(path) ? `contact-${name}-error` : undefined}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      />
      {fieldError(path) && (
        <span id={`contact-${name}-error`} className="field-error" role="alert">
          {fieldError(path)}
        </span>
      )}
    </div>
  );
  return (
    <form
      className="card job-form"
      onSubmit={submit}
      noValidate
      aria-label={existing ? 'Edit contact' : 'New contact'}
    >
      <fieldset>
        <legend>{existing ? `Edit ${existing.name}` : 'New contact'}</legend>
        {input('contactId', 'Contact id', 'contactId')}
        {input('name', 'Name', 'name')}
        {input('email', 'Email', 'email', 'email')}
        {input('groups', 'Groups (comma separated)', 'groups')}
        <fieldset className="checks wide">
          <legend>Alert kinds</legend>
          {ALL_KINDS.map((kind) => (
            <label key={kind} className="check">
              <input
                type="checkbox"
                checked={form.alertKinds.includes(kind)}
                onChange={(e) =>
                  setForm({
                    ...form,
                    alertKinds: e.target.checked
                      ? [...form.alertKinds, kind]
                      : form.alertKinds.filter((k) => k !== kind),
                  })
                }
              />
              {KINDS[kind]}
            </label>
          ))}
        </fieldset>
        <SubscriptionsEditor
          rows={form.subscriptions}
          onChange={(subscriptions) => setForm({ ...form, subscriptions })}
          fieldError={(i) => error?.fields.find((f) => f.path.startsWith(`subscriptions.${i}`))?.message}
        />
        <ChannelsEditor
          rows={form.channels}
          onChange={(channels) => setForm({ ...form, channels })}
          fieldError={(i) =>
            error?.fields.find((f) => f.path === 'channels' || f.path.startsWith(`channels.${i}`))?.message
          }
        />
      </fieldset>
      {save.error && !error?.fields.length ? <ErrorBox error={save.error} /> : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {existing ? 'Save contact' : 'Add contact'}
        </button>
        <button type="button" onClick={cancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

interface SubscriptionRow {
  on: 'job' | 'group';
  id: string;
  alertKinds: AlertKind[];
}

function toRow(sub: Subscription): SubscriptionRow {
  return sub.jobId
    ? { on: 'job', id: sub.jobId, alertKinds: sub.alertKinds }
    : { on: 'group', id: sub.group ?? '', alertKinds: sub.alertKinds };
}

function fromRow(row: SubscriptionRow): Subscription {
  const id = row.id.trim();
  return row.on === 'job'
    ? { jobId: id, alertKinds: row.alertKinds }
    : { group: id, alertKinds: row.alertKinds };
}

/** Per-job and per-group subscriptions, each with the alert kinds the contact wants from it. */
function SubscriptionsEditor({
  rows,
  onChange,
  fieldError,
}: {
  rows: SubscriptionRow[];
  onChange: (rows: SubscriptionRow[]) => void;
  fieldError: (index: number) => string | undefined;
}) {
  const change = (i: number, patch: Partial<SubscriptionRow>) =>
    onChange(rows.map((row, j) => (j === i ? { ...row, ...patch } : row)));
  return (
    <fieldset className="checks wide">
      <legend>Subscriptions</legend>
      {rows.length === 0 && (
        <p className="muted small">None: only the jobs that name this contact, and its groups.</p>
      )}
      {rows.map((row, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place and have no id until saved
        <div key={i} className="subscription">
          <label>
            On
            <select value={row.on} onChange={(e) => change(i, { on: e.target.value as 'job' | 'group' })}>
              <option value="job">job</option>
              <option value="group">group</option>
            </select>
          </label>
          <label>
            {row.on === 'job' ? 'Job id' : 'Group'}
            <input value={row.id} onChange={(e) => change(i, { id: e.target.value })} />
          </label>
          <label>
            Alert kinds
            <select
              multiple
              size={3}
              value={row.alertKinds}
              onChange={(e) =>
                change(i, { alertKinds: [...e.target.selectedOptions].map((o) => o.value as AlertKind) })
              }
            >
              {ALL_KINDS.map((k) => (
                <option key={k} value={k}>
                  {KINDS[k]}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove
          </button>
          {fieldError(i) && (
            <span className="field-error" role="alert">
              {fieldError(i)}
            </span>
          )}
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rows, { on: 'job', id: '', alertKinds: ALL_KINDS }])}>
        Add subscription
      </button>
    </fieldset>
  );
}

interface ChannelRow {
  type: ChannelType;
  name: string;
  /** A new URL; empty keeps the stored one (`stored`, shown shortened). */
  url: string;
  stored?: string;
  rotate: boolean;
}

function fromChannelRow(row: ChannelRow): ChannelChange {
  const url = row.url.trim();
  return {
    type: row.type,
    name: row.name.trim(),
    ...(url ? { url } : {}),
    ...(row.rotate ? { rotateSecret: true as const } : {}),
  };
}

/**
 * Webhook and chat channels: alerted like the email. URLs of saved channels are credentials the API
 * never shows again, so their field is empty and leaving it so keeps the stored URL.
 */
function ChannelsEditor({
  rows,
  onChange,
  fieldError,
}: {
  rows: ChannelRow[];
  onChange: (rows: ChannelRow[]) => void;
  fieldError: (index: number) => string | undefined;
}) {
  const change = (i: number, patch: Partial<ChannelRow>) =>
    onChange(rows.map((row, j) => (j === i ? { ...row, ...patch } : row)));
  return (
    <fieldset className="checks wide">
      <legend>Webhook and chat channels</legend>
      {rows.length === 0 && <p className="muted small">None: alerts go by email only.</p>}
      {rows.map((row, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place and have no id until saved
        <div key={i} className="subscription">
          <label>
            Type
            <select
              value={row.type}
              disabled={row.stored !== undefined}
              onChange={(e) => change(i, { type: e.target.value as ChannelType })}
            >
              {(Object.keys(CHANNEL_TYPES) as ChannelType[]).map((t) => (
                <option key={t} value={t}>
                  {CHANNEL_TYPES[t]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Channel name
            <input
              value={row.name}
              readOnly={row.stored !== undefined}
              onChange={(e) => change(i, { name: e.target.value })}
            />
          </label>
          <label>
            URL
            <input
              type="url"
              value={row.url}
              placeholder={row.stored ? `unchanged: ${row.stored}` : 'https://'}
              onChange={(e) => change(i, { url: e.target.value })}
            />
          </label>
          {row.type === 'webhook' && row.stored !== undefined && (
            <label className="check">
              <input
                type="checkbox"
                checked={row.rotate}
                onChange={(e) => change(i, { rotate: e.target.checked })}
              />
              New signing secret
            </label>
          )}
          <button type="button" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove channel
          </button>
          {fieldError(i) && (
            <span className="field-error" role="alert">
              {fieldError(i)}
            </span>
          )}
        </div>
      ))}
      <button
        type="button"
        onClick={() => onChange([...rows, { type: 'webhook', name: '', url: '', rotate: false }])}
      >
        Add channel
      </button>
    </fieldset>
  );
}
