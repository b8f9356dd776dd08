/**
 * The job's identity and what it runs: its id (fixed once created), the handler, description, group
 * and payload.
 */
import { useId } from 'react';
import { useWorkers } from '../../api/hooks';
import { countOf } from '../../format';
import { Field } from './controls';
import type { SectionProps } from './form-state';

export function JobSection({ form, update, fieldError, editing }: SectionProps & { editing: boolean }) {
  return (
    <fieldset>
      <legend>Job</legend>
      <Field label="Job id" error={fieldError('jobId')} hint="letters, digits, . _ -; cannot change later">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            required
            readOnly={editing}
            value={form.jobId}
            onChange={(e) => update({ jobId: e.target.value })}
          />
        )}
      </Field>
      <HandlerField
        value={form.handler}
        pool={form.pool.trim() || 'default'}
        error={fieldError('handler')}
        onChange={(handler) => update({ handler })}
      />
      <Field label="Description" error={fieldError('description')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.description}
            onChange={(e) => update({ description: e.target.value })}
          />
        )}
      </Field>
      <Field label="Group" error={fieldError('group')} hint="contacts can subscribe to a group">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.group}
            onChange={(e) => update({ group: e.target.value })}
          />
        )}
      </Field>
      <Field label="Payload (JSON)" error={fieldError('payload')} wide>
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            rows={3}
            spellCheck={false}
            value={form.payload}
            onChange={(e) => update({ payload: e.target.value })}
          />
        )}
      </Field>
    </fieldset>
  );
}

/**
 * The handler: free text, suggesting what the live workers of the job's pool offer (the workers
 * API), and warning when none of them offers the typed one (its runs would end NO_WORKER).
 */
function HandlerField({
  value,
  pool,
  error,
  onChange,
}: {
  value: string;
  pool: string;
  error: string | undefined;
  onChange: (handler: string) => void;
}) {
  const listId = useId();
  const workers = useWorkers();
  const live = (workers.data ?? []).filter((w) => w.live && w.pool === pool);
  const offered = [...new Set(live.flatMap((w) => w.handlers))].sort();
  const handler = value.trim();
  const unoffered = Boolean(workers.data && handler && !offered.includes(handler));
  return (
    <Field
      label="Handler"
      error={error}
      warn={unoffered}
      hint={
        unoffered
          ? `No live worker in pool "${pool}" offers "${handler}" now: its runs end NO_WORKER until one does.`
          : `a handler the agents register; ${countOf(offered.length, 'handler')} offered by live workers in pool "${pool}"`
      }
    >
      {(id, describedBy) => (
        <>
          <input
            id={id}
            aria-describedby={describedBy}
            required
            list={listId}
            autoComplete="off"
            value={value}
            onChange={(e) => onChange(e.target.value)}
          />
          <datalist id={listId}>
            {offered.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </>
      )}
    </Field>
  );
}
