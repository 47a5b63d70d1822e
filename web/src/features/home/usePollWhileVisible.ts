import { useEffect } from 'react';
import { useAppDispatch } from '../../app/hooks';
import { pollHome } from './newPosts';

/** How often the home page asks for new posts while it is visible. */
export const POLL_MS = 15_000;

/** Polls for new posts every `POLL_MS` while the page is visible, and at once when it comes
 * back into view; a failed poll is tried again on the next tick. */
export function usePollWhileVisible(): void {
  const dispatch = useAppDispatch();
  useEffect(() => {
    let running = false;
    const poll = () => {
      if (document.visibilityState !== 'visible' || running) return;
      running = true;
      void dispatch(pollHome())
        .catch(() => undefined)
        .finally(() => {
          running = false;
        });
    };
    const timer = window.setInterval(poll, POLL_MS);
    document.addEventListener('visibilitychange', poll);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', poll);
    };
  }, [dispatch]);
}
