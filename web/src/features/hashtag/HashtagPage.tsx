import { useParams } from 'react-router';
import { useHashtagTweetsInfiniteQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { useAppSelector } from '../../app/hooks';
import { Feed, FeedArticle } from '../../components/Feed';
import { LoadMore } from '../../components/LoadMore';
import { Page } from '../../Page';
import { TweetCard } from '../tweets/TweetCard';

/** The posts with one hashtag, newest first. */
export function HashtagPage() {
  const { tag = '' } = useParams();
  const { data, error, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } = useHashtagTweetsInfiniteQuery(tag);
  const deleted = useAppSelector((state) => state.entities.deleted);
  const tweets = (data?.pages.flatMap((page) => page.tweets) ?? []).filter((tweet) => !deleted[tweet.tweetId]);
  return (
    <Page title={`#${tag}`}>
      {error ? (
        <p className="error" role="alert">
          {(error as ApiError).message}
        </p>
      ) : null}
      <Feed label={`Posts with #${tag}`} busy={isLoading || isFetchingNextPage}>
        {tweets.map((tweet, index) => (
          <FeedArticle key={tweet.tweetId} index={index} tweetId={tweet.tweetId}>
            <TweetCard id={tweet.tweetId} />
          </FeedArticle>
        ))}
      </Feed>
      {!isLoading && tweets.length === 0 ? <p>No posts with #{tag} yet.</p> : null}
      <LoadMore hasMore={hasNextPage} loading={isFetchingNextPage} onLoad={() => void fetchNextPage()} />
    </Page>
  );
}
