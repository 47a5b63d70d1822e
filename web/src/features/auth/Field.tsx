import { useId } from 'react';
import type { ApiError } from '../../api/errors';
import { violationsOf } from '../../api/errors';

interface FieldProps {
  /** The API's field name (snake_case), whose violations show here. */
  name: string;
  label: string;
  hint?: string;
  type?: string;
  autoComplete: string;
  value: string;
  onChange: (value: string) => void;
  error: ApiError | undefined;
  required?: boolean;
}

/** A labelled input with its hint and its errors linked by aria-describedby. */
export function Field({
  name,
  label,
  hint,
  type = 'text',
  autoComplete,
  value,
  onChange,
  error,
  required = true,
}: FieldProps) {
  const errors = violationsOf(error, name);
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, errors.length > 0 ? errorId : null].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <span className="hint" id={hintId}>
          {hint}
        </span>
      ) : null}
      <input
        id={id}
        name={name}
        type={type}
        autoComplete={autoComplete}
        value={value}
        required={required}
        aria-invalid={errors.length > 0}
        {...(describedBy === '' ? {} : { 'aria-describedby': describedBy })}
        onChange={(event) => onChange(event.target.value)}
      />
      {errors.length > 0 ? (
        <span className="error" id={errorId}>
          {errors.join('; ')}
        </span>
      ) : null}
    </div>
  );
}

/** The form's errors at its top, announced when they appear. */
export function ErrorSummary({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <div className="error-summary" role="alert">
      <p>
        <strong>{error.message}</strong>
      </p>
      {error.fieldViolations.length > 0 ? (
        <ul>
          {error.fieldViolations.map((v) => (
            <li key={`${v.field}:${v.description}`}>
              {v.field}: {v.description}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
