import { useEffect } from 'react';
import { useNavigate } from 'react-router';
import { useOwnProfileQuery } from '../../api/api';
import { useAppDispatch } from '../../app/hooks';
import { opened } from '../compose/dialog';
import { toggle } from '../toggles/toggles';
import { createHotkeys, shortcutsOn, type Command } from './hotkeys';

/** The feed articles on the page, and the one that holds the focus. */
function articles(): { all: HTMLElement[]; at: number } {
  const all = [...document.querySelectorAll<HTMLElement>('[role="feed"] > article')];
  const focused = document.activeElement?.closest('[role="feed"] > article');
  return { all, at: focused ? all.indexOf(focused as HTMLElement) : -1 };
}

function focusedTweet(): string | null {
  const { all, at } = articles();
  return all[at]?.dataset.tweetId ?? null;
}

/** Listens for the shortcuts while signed in; `onHelp` opens the list of them. */
export function useHotkeys(onHelp: () => void): void {
  const navigate = useNavigate();
  const dispatch = useAppDispatch();
  const { data: me } = useOwnProfileQuery();

  useEffect(() => {
    const keyFor = createHotkeys();
    const move = (by: number) => {
      const { all, at } = articles();
      const next = all[Math.min(Math.max(at + by, 0), all.length - 1)];
      next?.focus();
    };
    const onTweet = (run: (id: string) => void) => {
      const id = focusedTweet();
      if (id) run(id);
    };
    const commands: Record<Command, () => void> = {
      next: () => move(1),
      previous: () => move(-1),
      open: () => onTweet((id) => void navigate(`/t/${id}`)),
      like: () => onTweet((id) => void dispatch(toggle('like', id))),
      repost: () => onTweet((id) => void dispatch(toggle('repost', id))),
      reply: () => onTweet((id) => void navigate(`/t/${id}`, { state: { reply: true } })),
      quote: () => onTweet((id) => dispatch(opened({ quoteOf: id }))),
      compose: () => dispatch(opened({})),
      search: () => void navigate('/search', { state: { focus: true } }),
      showNew: () => document.querySelector<HTMLButtonElement>('button[data-action="show-new"]')?.click(),
      help: onHelp,
      goHome: () => void navigate('/'),
      goNotifications: () => void navigate('/notifications'),
      goProfile: () => {
        if (me) void navigate(`/u/${me.username}`);
      },
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || !shortcutsOn()) return;
      const command = keyFor(event);
      if (!command) return;
      event.preventDefault();
      commands[command]();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [navigate, dispatch, me, onHelp]);
}
