/**
 * The job form's labelled controls. Field is the one field row every section uses: the label tied to
 * its control, the hint and the error named by the control's aria-describedby. Select and TextField
 * are the usual controls in it, bound to a form field by `binder`; a control with more beside it (a
 * datalist) takes Field itself. Check, a yes/no, is its own label.
 */
import { type ReactNode, useId } from 'react';
import type { FormState, SectionProps } from './form-state';

/**
 * Binds a control to one field of the form: its value, its error (the one at `path` of the spec,
 * by default the field's name) and its change, to spread into the control: `{...bind('group')}`.
 */
export function binder({ form, update, fieldError }: SectionProps) {
  return <K extends keyof FormState>(field: K, path: string = field) => ({
    value: form[field],
    error: fieldError(path),
    onChange: (value: FormState[K]) => update({ [field]: value } as Partial<FormState>),
  });
}

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

/**
 * A text box bound to one of the form's fields as typed: a line, a text area (`rows`), or a whole
 * number of at least 0 (`numeric`, still a string here; specOf reads it).
 */
export function TextField({
  label,
  value,
  error,
  hint,
  wide,
  rows,
  numeric,
  required,
  readOnly,
  spellCheck,
  placeholder,
  onChange,
}: {
  label: string;
  value: string;
  error: string | undefined;
  hint?: string;
  wide?: boolean;
  rows?: number;
  numeric?: boolean;
  required?: boolean;
  readOnly?: boolean;
  spellCheck?: boolean;
  placeholder?: string;
  onChange: (value: string) => void;
}) {
  return (
    <Field label={label} error={error} hint={hint} wide={wide}>
      {(id, describedBy) =>
        rows ? (
          <textarea
            id={id}
            aria-describedby={describedBy}
            rows={rows}
            spellCheck={spellCheck}
            value={value}
            onChange={(e) => onChange(e.target.value)}
          />
        ) : (
          <input
            id={id}
            aria-describedby={describedBy}
            {...(numeric ? { type: 'number', inputMode: 'numeric', min: 0 } : {})}
            required={required}
            readOnly={readOnly}
            spellCheck={spellCheck}
            placeholder={placeholder}
            value={value}
            onChange={(e) => onChange(e.target.value)}
          />
        )
      }
    </Field>
  );
}

/** A yes/no setting: the checkbox inside its label. */
export function Check({
  label,
  checked,
  wide,
  onChange,
}: {
  label: string;
  checked: boolean;
  wide?: boolean;
  onChange: (checked: boolean) => void;
}) {
  return (
    <label className={wide ? 'check wide' : 'check'}>
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  );
}
