/**
 * The job's identity and what it runs: its id (fixed once created), the handler, description, group
 * and payload.
 */
import { useId } from 'react';
import { useWorkers } from '../../api/hooks';
import { countOf } from '../../format';
import { binder, Field, TextField } from './controls';
import type { SectionProps } from './form-state';

export function JobSection({ editing, ...props }: SectionProps & { editing: boolean }) {
  const bind = binder(props);
  return (
    <fieldset>
      <legend>Job</legend>
      <TextField
        label="Job id"
        hint="letters, digits, . _ -; cannot change later"
        required
        readOnly={editing}
        {...bind('jobId')}
      />
      <HandlerField pool={props.form.pool.trim() || 'default'} {...bind('handler')} />
      <TextField label="Description" {...bind('description')} />
      <TextField label="Group" hint="contacts can subscribe to a group" {...bind('group')} />
      <TextField label="Payload (JSON)" wide rows={3} spellCheck={false} {...bind('payload')} />
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
