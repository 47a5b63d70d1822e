import { useEffect, useId, useState, type FormEvent } from 'react';
import { useCreateTweetMutation } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { violationsOf } from '../../api/errors';
import { count } from './counter';
import { clearDraft, loadDraft, newDraft, saveDraft } from './draft';

export function Compose() {
  const [draft, setDraft] = useState(loadDraft);
  const [post, { isLoading, error }] = useCreateTweetMutation();
  const counted = count(draft.text);
  const textId = useId();
  const counterId = useId();
  const apiError = error as ApiError | undefined;
  const errors = violationsOf(apiError, 'text');

  useEffect(() => saveDraft(draft), [draft]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await post({ text: draft.text, idempotencyKey: draft.idempotencyKey });
    if ('data' in result) {
      clearDraft();
      setDraft(newDraft());
    }
  };

  const empty = draft.text.trim() === '';
  return (
    <form className="compose" onSubmit={submit} aria-label="New post">
      <label htmlFor={textId} className="visually-hidden">
        What is happening?
      </label>
      <textarea
        id={textId}
        placeholder="What is happening?"
        value={draft.text}
        aria-invalid={!counted.valid && !empty}
        aria-describedby={counterId}
        onChange={(event) => setDraft({ ...draft, text: event.target.value })}
      />
      {errors.length > 0 || (apiError && apiError.fieldViolations.length === 0) ? (
        <p className="error" role="alert">
          {errors.length > 0 ? errors.join('; ') : apiError?.message}
        </p>
      ) : null}
      <div className="row">
        {/* Announced only near and over the limit, not on every keystroke. */}
        <span id={counterId} className="counter" data-over={counted.remaining < 0} aria-live={counted.near ? 'polite' : 'off'}>
          {counted.remaining < 0
            ? `${-counted.remaining} characters over the limit`
            : `${counted.remaining} characters left`}
        </span>
        <button className="primary" type="submit" disabled={isLoading || empty || !counted.valid}>
          {isLoading ? 'Posting…' : 'Post'}
        </button>
      </div>
    </form>
  );
}
