import { useEffect, useRef, useState } from 'react';

/** The end of a list: while it is near the screen the next page loads (infinite scroll), and
 * the button is always there too, so the end of a list is said, not guessed, and a keyboard
 * or screen reader user loads more on purpose. */
export function LoadMore({
  hasMore,
  loading,
  onLoad,
  what = 'posts',
}: {
  hasMore: boolean;
  loading: boolean;
  onLoad: () => void;
  /** What the list holds, for "No more …". */
  what?: string;
}) {
  const button = useRef<HTMLButtonElement>(null);
  const [near, setNear] = useState(false);
  // The latest handler, without making each render a reason to load.
  const load = useRef(onLoad);
  useEffect(() => {
    load.current = onLoad;
  });

  useEffect(() => {
    const element = button.current;
    if (!element || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(
      (entries) => setNear(entries.some((entry) => entry.isIntersecting)),
      // A screen ahead, so the next page is there before the reader reaches the end.
      { rootMargin: '0px 0px 100% 0px' },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // Again after each page while the end is still near (a short page does not fill the screen).
  useEffect(() => {
    if (near && hasMore && !loading) load.current();
  }, [near, hasMore, loading]);

  return (
    <button ref={button} type="button" className="load-more" disabled={!hasMore || loading} onClick={onLoad}>
      {loading ? 'Loading…' : hasMore ? 'Load more' : `No more ${what}`}
    </button>
  );
}
