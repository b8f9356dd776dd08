/** Where the job runs: its mode, delivery, pool, routing, labels and pinned workers. */
import { DELIVERIES, MODES, ROUTINGS } from './choices';
import { Field, Select } from './controls';
import type { SectionProps } from './form-state';

export function PlacementSection({ form, update, fieldError }: SectionProps) {
  return (
    <fieldset>
      <legend>Where it runs</legend>
      <Select
        label="Mode"
        value={form.mode}
        options={MODES}
        error={fieldError('mode')}
        onChange={(mode) => update({ mode })}
      />
      <Select
        label="Delivery"
        value={form.delivery}
        options={DELIVERIES}
        error={fieldError('delivery')}
        onChange={(delivery) => update({ delivery })}
      />
      <Field label="Pool" error={fieldError('target.pool')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.pool}
            onChange={(e) => update({ pool: e.target.value })}
          />
        )}
      </Field>
      <Select
        label="Routing"
        value={form.routing}
        options={ROUTINGS}
        error={fieldError('routing')}
        onChange={(routing) => update({ routing })}
      />
      <Field
        label="Labels"
        error={fieldError('target.labels')}
        hint="one key=value a line; a worker must have all"
      >
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            rows={2}
            value={form.labels}
            onChange={(e) => update({ labels: e.target.value })}
          />
        )}
      </Field>
      <Field label="Pinned workers" error={fieldError('target.workerIds')} hint="worker ids, comma separated">
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.workerIds}
            onChange={(e) => update({ workerIds: e.target.value })}
          />
        )}
      </Field>
    </fieldset>
  );
}
