import { beforeEach, describe, expect, it } from 'vitest';
import { createHotkeys, isTyping, SEQUENCE_MS, setShortcutsOn, shortcutsOn, type KeyInput } from './hotkeys';

const press = (key: string, over: Partial<KeyInput> = {}): KeyInput => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  target: document.body,
  ...over,
});

describe('keyboard shortcuts', () => {
  let clock = 0;
  let keys = createHotkeys(() => clock);
  beforeEach(() => {
    clock = 0;
    keys = createHotkeys(() => clock);
    document.body.innerHTML = '';
    localStorage.clear();
  });

  it('map single keys to commands', () => {
    expect(['j', 'k', 'o', 'l', 't', 'r', 'q', 'n', '/', '.', '?'].map((k) => keys(press(k)))).toEqual([
      'next',
      'previous',
      'open',
      'like',
      'repost',
      'reply',
      'quote',
      'compose',
      'search',
      'showNew',
      'help',
    ]);
    expect(keys(press('x'))).toBeNull();
  });

  it('take g then a key as a place to go, within a moment', () => {
    expect(keys(press('g'))).toBeNull();
    expect(keys(press('h'))).toBe('goHome');
    expect(keys(press('g'))).toBeNull();
    expect(keys(press('n'))).toBe('goNotifications');
    keys(press('g'));
    expect(keys(press('p'))).toBe('goProfile');
    keys(press('g'));
    clock += SEQUENCE_MS + 1;
    expect(keys(press('n'))).toBe('compose');
  });

  it('are ignored while typing, in a dialog and with modifier keys', () => {
    document.body.innerHTML = '<textarea></textarea><input><dialog open><button>x</button></dialog>';
    for (const selector of ['textarea', 'input', 'dialog button']) {
      expect(isTyping(document.querySelector(selector))).toBe(true);
      expect(keys(press('j', { target: document.querySelector(selector) }))).toBeNull();
    }
    expect(keys(press('l', { ctrlKey: true }))).toBeNull();
    expect(keys(press('l', { metaKey: true }))).toBeNull();
    expect(keys(press('l'))).toBe('like');
  });

  it('can be switched off and on, and remember it', () => {
    expect(shortcutsOn()).toBe(true);
    setShortcutsOn(false);
    expect(shortcutsOn()).toBe(false);
    setShortcutsOn(true);
    expect(shortcutsOn()).toBe(true);
  });
});
