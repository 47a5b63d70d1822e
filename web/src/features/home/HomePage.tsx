import { useHomeTimelineInfiniteQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { Page } from '../../Page';
import { LoadMore } from './LoadMore';
import { Compose } from '../compose/Compose';
import { TweetView } from './TweetView';

export function HomePage() {
  const { data, error, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } =
    useHomeTimelineInfiniteQuery();
  const items = data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Page title="Home">
      <Compose />
      {error ? (
        <p role="alert" className="error">
          {(error as ApiError).message}
        </p>
      ) : null}
      <div role="feed" className="feed" aria-busy={isLoading || isFetchingNextPage} aria-label="Home timeline">
        {items.map((item, index) =>
          item.card?.tweet ? (
            <article key={item.itemId} tabIndex={0} aria-posinset={index + 1} aria-setsize={-1}>
              {item.repostedBy ? <p>Reposted by {item.repostedBy.displayName}</p> : null}
              <TweetView tweet={item.card.tweet} author={item.card.author} quoted={item.card.quoted} />
            </article>
          ) : null,
        )}
      </div>
      {!isLoading && items.length === 0 ? <p>Nothing yet: follow people to see their posts here.</p> : null}
      <LoadMore hasMore={hasNextPage} loading={isFetchingNextPage} onLoad={() => void fetchNextPage()} />
    </Page>
  );
}
