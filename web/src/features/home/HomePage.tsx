import { useEffect } from 'react';
import { useHomeTimelineInfiniteQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Feed, FeedArticle } from '../../components/Feed';
import { LoadMore } from '../../components/LoadMore';
import { Page } from '../../Page';
import { Compose } from '../compose/Compose';
import { TweetCard } from '../tweets/TweetCard';
import { NewPostsButton } from './NewPostsButton';
import { sawNewest } from './newPosts';
import { usePollWhileVisible } from './usePollWhileVisible';

export function HomePage() {
  const { data, error, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } = useHomeTimelineInfiniteQuery();
  const dispatch = useAppDispatch();
  const own = useAppSelector((state) => state.newPosts.own);
  const deleted = useAppSelector((state) => state.entities.deleted);
  const items = (data?.pages.flatMap((page) => page.items) ?? []).filter(
    (item) => item.card?.tweet && !deleted[item.card.tweet.tweetId],
  );
  // Polling starts from the newest item the server gave (own posts put on top do not count).
  // An empty first page polls from the start ('0': no lower bound).
  const loaded = data !== undefined;
  const newest = items.find((item) => !own[item.itemId])?.itemId ?? (loaded ? '0' : undefined);
  useEffect(() => {
    if (newest) dispatch(sawNewest(newest));
  }, [newest, dispatch]);
  usePollWhileVisible();

  return (
    <Page title="Home">
      <Compose />
      {error ? (
        <p role="alert" className="error">
          {(error as ApiError).message}
        </p>
      ) : null}
      <NewPostsButton />
      <Feed label="Home timeline" busy={isLoading || isFetchingNextPage}>
        {items.map((item, index) => (
          <FeedArticle key={item.itemId} index={index} itemId={item.itemId} {...(item.card?.tweet ? { tweetId: item.card.tweet.tweetId } : {})}>
            {item.repostedBy ? <p className="context">Reposted by {item.repostedBy.displayName}</p> : null}
            {item.card?.tweet ? <TweetCard id={item.card.tweet.tweetId} /> : null}
          </FeedArticle>
        ))}
      </Feed>
      {!isLoading && items.length === 0 ? <p>Nothing yet: follow people to see their posts here.</p> : null}
      <LoadMore hasMore={hasNextPage} loading={isFetchingNextPage} onLoad={() => void fetchNextPage()} />
    </Page>
  );
}
