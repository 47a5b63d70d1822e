// The keyboard shortcuts, as X and Mastodon have them: one key for an action on the focused
// post or the page, `g` then a key to go somewhere. They never fire while typing in a field,
// nor with Ctrl, Alt or Cmd (those belong to the browser), and they can be switched off.

export type Command =
  | 'next'
  | 'previous'
  | 'open'
  | 'like'
  | 'repost'
  | 'reply'
  | 'quote'
  | 'compose'
  | 'search'
  | 'showNew'
  | 'help'
  | 'goHome'
  | 'goNotifications'
  | 'goProfile';

export const SHORTCUTS: ReadonlyArray<{ keys: string; command: Command; does: string }> = [
  { keys: 'j', command: 'next', does: 'Next post' },
  { keys: 'k', command: 'previous', does: 'Previous post' },
  { keys: 'o', command: 'open', does: 'Open the post' },
  { keys: 'l', command: 'like', does: 'Like or undo the like' },
  { keys: 't', command: 'repost', does: 'Repost or undo the repost' },
  { keys: 'r', command: 'reply', does: 'Reply' },
  { keys: 'q', command: 'quote', does: 'Quote' },
  { keys: 'n', command: 'compose', does: 'New post' },
  { keys: '/', command: 'search', does: 'Search people' },
  { keys: '.', command: 'showNew', does: 'Show new posts' },
  { keys: 'g h', command: 'goHome', does: 'Go home' },
  { keys: 'g n', command: 'goNotifications', does: 'Go to notifications' },
  { keys: 'g p', command: 'goProfile', does: 'Go to your profile' },
  { keys: '?', command: 'help', does: 'Show these shortcuts' },
];

const SINGLE = new Map(SHORTCUTS.filter((s) => !s.keys.includes(' ')).map((s) => [s.keys, s.command]));
const AFTER_G = new Map(
  SHORTCUTS.filter((s) => s.keys.startsWith('g ')).map((s) => [s.keys.slice(2), s.command]),
);

/** How long `g` waits for its second key. */
export const SEQUENCE_MS = 1500;

export interface KeyInput {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  target: EventTarget | null;
}

/** Typing in a field, or a widget that takes keys itself. */
export function isTyping(target: EventTarget | null): boolean {
  if (typeof Element === 'undefined' || !(target instanceof Element)) return false;
  if (target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]')) return true;
  return target.closest('dialog[open]') !== null;
}

/** A key handler over `now` (tests pass a clock): answers the command a key completes. */
export function createHotkeys(now: () => number = () => Date.now()) {
  let gPressedAt: number | null = null;
  return (input: KeyInput): Command | null => {
    if (input.ctrlKey || input.metaKey || input.altKey || isTyping(input.target)) return null;
    if (gPressedAt !== null && now() - gPressedAt <= SEQUENCE_MS) {
      gPressedAt = null;
      return AFTER_G.get(input.key) ?? null;
    }
    gPressedAt = null;
    if (input.key === 'g') {
      gPressedAt = now();
      return null;
    }
    return SINGLE.get(input.key) ?? null;
  };
}

const STORAGE_KEY = 'xir.shortcuts';

export function shortcutsOn(): boolean {
  return globalThis.localStorage?.getItem(STORAGE_KEY) !== 'off';
}

export function setShortcutsOn(on: boolean): void {
  globalThis.localStorage?.setItem(STORAGE_KEY, on ? 'on' : 'off');
}
