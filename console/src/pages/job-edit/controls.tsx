/** The job form's labelled controls: a field with its hint and error, a select over a choice table, a number. */
import { type ReactNode, useId } from 'react';
import type { SectionProps } from './form-state';

export function Field({
  label,
  error,
  hint,
  warn,
  wide,
  children,
}: {
  label: string;
  error?: string;
  hint?: string;
  /** The hint is a warning (shown as one; the form may still be saved). */
  warn?: boolean;
  wide?: boolean;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const described =
    [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' invalid' : ''}${wide ? ' wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, described)}
      {hint && (
        <span id={`${id}-hint`} className={warn ? 'hint warn' : 'hint'} aria-live="polite">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

export function Select<T extends string>({
  label,
  value,
  options,
  error,
  onChange,
}: {
  label: string;
  value: T;
  options: Readonly<Record<T, string>>;
  error?: string;
  onChange: (value: T) => void;
}) {
  return (
    <Field label={label} error={error}>
      {(id, describedBy) => (
        <select
          id={id}
          aria-describedby={describedBy}
          value={value}
          onChange={(e) => onChange(e.target.value as T)}
        >
          {(Object.entries(options) as [T, string][]).map(([key, text]) => (
            <option key={key} value={key}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

type NumericField =
  | 'maxQueued'
  | 'misfireWindowSeconds'
  | 'maxAttempts'
  | 'backoffSeconds'
  | 'maxBackoffSeconds'
  | 'timeoutSeconds';

export function NumberField({
  label,
  path,
  field,
  form,
  update,
  fieldError,
}: SectionProps & {
  label: string;
  path: string;
  field: NumericField;
}) {
  return (
    <Field label={label} error={fieldError(path)}>
      {(id, describedBy) => (
        <input
          id={id}
          aria-describedby={describedBy}
          type="number"
          inputMode="numeric"
          min={0}
          value={form[field]}
          onChange={(e) => update({ [field]: e.target.value })}
        />
      )}
    </Field>
  );
}
