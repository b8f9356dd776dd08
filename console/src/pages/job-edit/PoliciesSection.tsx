/** The job's policies: concurrency, misfires, retries, timeout, recovery on worker loss, paused. */
import { CONCURRENCY, MISFIRES } from './choices';
import { binder, Check, Select, TextField } from './controls';
import type { SectionProps } from './form-state';

export function PoliciesSection(props: SectionProps) {
  const { form, update } = props;
  const bind = binder(props);
  return (
    <fieldset>
      <legend>Policies</legend>
      <Select label="Concurrency" options={CONCURRENCY} {...bind('concurrency', 'concurrency.policy')} />
      <TextField numeric label="Max queued" {...bind('maxQueued', 'concurrency.maxQueued')} />
      <Select label="Misfire" options={MISFIRES} {...bind('misfire', 'misfire.policy')} />
      <TextField
        numeric
        label="Misfire window (s)"
        {...bind('misfireWindowSeconds', 'misfire.windowSeconds')}
      />
      <TextField numeric label="Attempts" {...bind('maxAttempts', 'retry.maxAttempts')} />
      <TextField numeric label="Backoff (s)" {...bind('backoffSeconds', 'retry.backoffSeconds')} />
      <TextField numeric label="Max backoff (s)" {...bind('maxBackoffSeconds', 'retry.maxBackoffSeconds')} />
      <TextField numeric label="Timeout (s)" {...bind('timeoutSeconds')} />
      <Check
        label="Recover on another worker when its worker is lost"
        checked={form.recoverOnWorkerLoss}
        onChange={(recoverOnWorkerLoss) => update({ recoverOnWorkerLoss })}
      />
      <Check label="Paused" checked={form.paused} onChange={(paused) => update({ paused })} />
    </fieldset>
  );
}
