/** The jobs this one runs after (dependent jobs) and whether it waits for any or all of them. */
import { WAIT_FOR } from './choices';
import { Field, Select } from './controls';
import type { SectionProps } from './form-state';

export function UpstreamSection({ form, update, fieldError }: SectionProps) {
  return (
    <fieldset>
      <legend>Runs after</legend>
      <Field
        label="Upstream jobs"
        error={fieldError('after')}
        hint="one a line: JOB, or JOB FAILED / JOB COMPLETED (default SUCCEEDED)"
      >
        {(id, describedBy) => (
          <textarea
            id={id}
            aria-describedby={describedBy}
            rows={2}
            value={form.after}
            onChange={(e) => update({ after: e.target.value })}
          />
        )}
      </Field>
      <Select
        label="Wait for"
        value={form.waitFor}
        options={WAIT_FOR}
        error={fieldError('waitFor')}
        onChange={(waitFor) => update({ waitFor })}
      />
    </fieldset>
  );
}
