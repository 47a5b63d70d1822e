import { useEffect, useId, useState, type FormEvent } from 'react';
import { useCreateTweetMutation } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { violationsOf } from '../../api/errors';
import { count } from './counter';
import { clearDraft, draftKey, loadDraft, newDraft, saveDraft } from './draft';

/** The compose box: a new post, or with `replyTo` a reply to that tweet. */
export function Compose({ replyTo }: { replyTo?: string } = {}) {
  const key = draftKey(replyTo);
  const [draft, setDraft] = useState(() => loadDraft(key));
  const [post, { isLoading, error }] = useCreateTweetMutation();
  const counted = count(draft.text);
  const textId = useId();
  const counterId = useId();
  const apiError = error as ApiError | undefined;
  const errors = violationsOf(apiError, 'text');

  useEffect(() => saveDraft(key, draft), [key, draft]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await post({
      text: draft.text,
      idempotencyKey: draft.idempotencyKey,
      ...(replyTo ? { replyToId: replyTo } : {}),
    });
    if ('data' in result) {
      clearDraft(key);
      setDraft(newDraft());
    }
  };

  const empty = draft.text.trim() === '';
  const prompt = replyTo ? 'Post your reply' : 'What is happening?';
  return (
    <form className="compose" onSubmit={submit} aria-label={replyTo ? 'Reply' : 'New post'}>
      <label htmlFor={textId} className="visually-hidden">
        {prompt}
      </label>
      <textarea
        id={textId}
        placeholder={prompt}
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
          {isLoading ? 'Posting…' : replyTo ? 'Reply' : 'Post'}
        </button>
      </div>
    </form>
  );
}
