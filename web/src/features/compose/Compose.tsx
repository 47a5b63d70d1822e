import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { useCreateTweetMutation } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { violationsOf } from '../../api/errors';
import { useAppDispatch } from '../../app/hooks';
import { ownPostAppeared } from '../home/newPosts';
import { said } from '../live/live';
import { count, type Count } from './counter';
import { clearDraft, draftKey, loadDraft, newDraft, saveDraft } from './draft';

/** What the counter says aloud: only near and over the limit, and only at a few steps, so a
 * screen reader is not talked over on every keystroke. */
export function counterAnnouncement(counted: Count): string | null {
  if (counted.remaining < 0) return `${-counted.remaining} characters over the limit`;
  if (counted.near && (counted.remaining % 5 === 0 || counted.remaining < 5)) {
    return `${counted.remaining} characters left`;
  }
  return null;
}

interface ComposeProps {
  replyTo?: string;
  quoteOf?: string;
  /** Called with the new post's id once it is posted (the dialog closes). */
  onPosted?: (tweetId: string) => void;
  autoFocus?: boolean;
}

/** The compose box: a new post, a reply to `replyTo`, or a quote of `quoteOf`. */
export function Compose({ replyTo, quoteOf, onPosted, autoFocus = false }: ComposeProps = {}) {
  const key = draftKey({ replyTo, quoteOf });
  const [draft, setDraft] = useState(() => loadDraft(key));
  const [post, { isLoading, error }] = useCreateTweetMutation();
  const dispatch = useAppDispatch();
  const counted = count(draft.text);
  const textId = useId();
  const counterId = useId();
  const apiError = error as ApiError | undefined;
  const errors = violationsOf(apiError, 'text');
  const spoken = counterAnnouncement(counted);
  const lastSpoken = useRef<string | null>(null);

  useEffect(() => saveDraft(key, draft), [key, draft]);
  useEffect(() => {
    if (spoken !== null && spoken !== lastSpoken.current) dispatch(said(spoken));
    lastSpoken.current = spoken;
  }, [spoken, dispatch]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await post({
      text: draft.text,
      idempotencyKey: draft.idempotencyKey,
      ...(replyTo ? { replyToId: replyTo } : {}),
      ...(quoteOf ? { quoteOfId: quoteOf } : {}),
    });
    if (result.data) {
      clearDraft(key);
      setDraft(newDraft());
      dispatch(ownPostAppeared(result.data));
      dispatch(said(replyTo ? 'Reply posted' : 'Post sent'));
      onPosted?.(result.data.tweetId);
    }
  };

  const empty = draft.text.trim() === '';
  const prompt = replyTo ? 'Post your reply' : quoteOf ? 'Add a comment' : 'What is happening?';
  return (
    <form className="compose" onSubmit={submit} aria-label={replyTo ? 'Reply' : quoteOf ? 'Quote' : 'New post'}>
      <label htmlFor={textId} className="visually-hidden">
        {prompt}
      </label>
      <textarea
        id={textId}
        placeholder={prompt}
        value={draft.text}
        autoFocus={autoFocus}
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
        <span id={counterId} className="counter" data-over={counted.remaining < 0}>
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
