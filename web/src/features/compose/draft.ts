// A draft survives a reload (localStorage) and carries one idempotency key for its whole
// life, so that a post retried after a lost answer is the same post, never a second one.

/** Where a draft is kept: the compose box, the reply box of a tweet, or a quote of one. */
export function draftKey(target: { replyTo?: string | undefined; quoteOf?: string | undefined } = {}): string {
  if (target.replyTo) return `xir.draft.reply.${target.replyTo}`;
  if (target.quoteOf) return `xir.draft.quote.${target.quoteOf}`;
  return 'xir.draft';
}

export interface Draft {
  text: string;
  idempotencyKey: string;
}

export function newDraft(): Draft {
  return { text: '', idempotencyKey: crypto.randomUUID() };
}

export function loadDraft(key: string): Draft {
  try {
    const stored = JSON.parse(localStorage.getItem(key) ?? 'null') as Partial<Draft> | null;
    if (stored && typeof stored.text === 'string' && typeof stored.idempotencyKey === 'string') {
      return { text: stored.text, idempotencyKey: stored.idempotencyKey };
    }
  } catch {
    // A damaged draft is dropped.
  }
  return newDraft();
}

export function saveDraft(key: string, draft: Draft): void {
  localStorage.setItem(key, JSON.stringify(draft));
}

export function clearDraft(key: string): void {
  localStorage.removeItem(key);
}
