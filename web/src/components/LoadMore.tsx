/** The button under every list: always there, so the end of a list is said, not guessed. */
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
  return (
    <button type="button" className="load-more" disabled={!hasMore || loading} onClick={onLoad}>
      {loading ? 'Loading…' : hasMore ? 'Load more' : `No more ${what}`}
    </button>
  );
}
