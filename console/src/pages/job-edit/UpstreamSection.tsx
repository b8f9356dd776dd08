/** The jobs this one runs after (dependent jobs) and whether it waits for any or all of them. */
import { WAIT_FOR } from './choices';
import { binder, Select, TextField } from './controls';
import type { SectionProps } from './form-state';

export function UpstreamSection(props: SectionProps) {
  const bind = binder(props);
  return (
    <fieldset>
      <legend>Runs after</legend>
      <TextField
        label="Upstream jobs"
        hint="one a line: JOB, or JOB FAILED / JOB COMPLETED (default SUCCEEDED)"
        rows={2}
        {...bind('after')}
      />
      <Select label="Wait for" options={WAIT_FOR} {...bind('waitFor')} />
    </fieldset>
  );
}
