/** The job's policies: concurrency, misfires, retries, timeout, recovery on worker loss, paused. */
import { CONCURRENCY, MISFIRES } from './choices';
import { NumberField, Select } from './controls';
import type { SectionProps } from './form-state';

export function PoliciesSection({ form, update, fieldError }: SectionProps) {
  return (
    <fieldset>
      <legend>Policies</legend>
      <Select
        label="Concurrency"
        value={form.concurrency}
        options={CONCURRENCY}
        error={fieldError('concurrency.policy')}
        onChange={(concurrency) => update({ concurrency })}
      />
      <NumberField
        label="Max queued"
        path="concurrency.maxQueued"
        form={form}
        update={update}
        field="maxQueued"
        fieldError={fieldError}
      />
      <Select
        label="Misfire"
        value={form.misfire}
        options={MISFIRES}
        error={fieldError('misfire.policy')}
        onChange={(misfire) => update({ misfire })}
      />
      <NumberField
        label="Misfire window (s)"
        path="misfire.windowSeconds"
        form={form}
        update={update}
        field="misfireWindowSeconds"
        fieldError={fieldError}
      />
      <NumberField
        label="Attempts"
        path="retry.maxAttempts"
        form={form}
        update={update}
        field="maxAttempts"
        fieldError={fieldError}
      />
      <NumberField
        label="Backoff (s)"
        path="retry.backoffSeconds"
        form={form}
        update={update}
        field="backoffSeconds"
        fieldError={fieldError}
      />
      <NumberField
        label="Max backoff (s)"
        path="retry.maxBackoffSeconds"
        form={form}
        update={update}
        field="maxBackoffSeconds"
        fieldError={fieldError}
      />
      <NumberField
        label="Timeout (s)"
        path="timeoutSeconds"
        form={form}
        update={update}
        field="timeoutSeconds"
        fieldError={fieldError}
      />
      <label className="check">
        <input
          type="checkbox"
          checked={form.recoverOnWorkerLoss}
          onChange={(e) => update({ recoverOnWorkerLoss: e.target.checked })}
        />
        Recover on another worker when its worker is lost
      </label>
      <label className="check">
        <input type="checkbox" checked={form.paused} onChange={(e) => update({ paused: e.target.checked })} />
        Paused
      </label>
    </fieldset>
  );
}
