// A draft survives a reload (localStorage) and carries one idempotency key for its whole
// life, so that a post retried after a lost answer is the same post, never a second one.

/** Where a draft is kept: the home compose box, or the reply box of one tweet. */
export function draftKey(replyTo?: string): string {
  return replyTo ? `xir.draft.reply.${replyTo}` : 'xir.draft';
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
