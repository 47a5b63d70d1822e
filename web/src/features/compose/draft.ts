// A draft survives a reload (localStorage) and carries one idempotency key for its whole
// life, so that a post retried after a lost answer is the same post, never a second one.

const KEY = 'xir.draft';

export interface Draft {
  text: string;
  idempotencyKey: string;
}

export function newDraft(): Draft {
  return { text: '', idempotencyKey: crypto.randomUUID() };
}

export function loadDraft(): Draft {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Draft> | null;
    if (stored && typeof stored.text === 'string' && typeof stored.idempotencyKey === 'string') {
      return { text: stored.text, idempotencyKey: stored.idempotencyKey };
    }
  } catch {
    // A damaged draft is dropped.
  }
  return newDraft();
}

export function saveDraft(draft: Draft): void {
  localStorage.setItem(KEY, JSON.stringify(draft));
}

export function clearDraft(): void {
  localStorage.removeItem(KEY);
}
