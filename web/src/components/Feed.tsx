import { Children, type ReactNode } from 'react';

/** The ARIA feed pattern: a list of focusable articles that says it is still loading. A feed
 * must hold articles, so an empty one is not rendered (the page says why it is empty). */
export function Feed({ label, busy, children }: { label: string; busy: boolean; children: ReactNode }) {
  if (Children.toArray(children).length === 0) return null;
  return (
    <div role="feed" className="feed" aria-busy={busy} aria-label={label}>
      {children}
    </div>
  );
}

/** One item of a feed. `tweetId` is what the keyboard shortcuts act on (l, t, r, q, o). */
export function FeedArticle({
  index,
  tweetId,
  itemId,
  className,
  current,
  children,
}: {
  index: number;
  tweetId?: string;
  /** The timeline item's id, for focusing it after new posts come in. */
  itemId?: string;
  className?: string;
  current?: boolean;
  children: ReactNode;
}) {
  return (
    <article
      tabIndex={0}
      aria-posinset={index + 1}
      aria-setsize={-1}
      data-tweet-id={tweetId}
      data-item-id={itemId}
      className={className}
      aria-current={current ? 'true' : undefined}
    >
      {children}
    </article>
  );
}
