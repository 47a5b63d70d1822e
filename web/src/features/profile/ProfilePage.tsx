import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { useOwnProfileQuery, useProfileByUsernameQuery, useUserTweetsInfiniteQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import type { Profile } from '../../api/types';
import { useAppSelector } from '../../app/hooks';
import { Feed, FeedArticle } from '../../components/Feed';
import { LoadMore } from '../../components/LoadMore';
import { Page } from '../../Page';
import { TweetCard } from '../tweets/TweetCard';
import { FollowButton } from './FollowButton';

function UserTweets({ user, excludeReplies }: { user: Profile; excludeReplies: boolean }) {
  const { data, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } = useUserTweetsInfiniteQuery({
    userId: user.userId,
    excludeReplies,
  });
  const deleted = useAppSelector((state) => state.entities.deleted);
  const items = (data?.pages.flatMap((page) => page.items) ?? []).filter(
    (item) => item.tweet && !deleted[item.tweet.tweetId],
  );
  return (
    <>
      <Feed label={`Posts by ${user.displayName}`} busy={isLoading || isFetchingNextPage}>
        {items.map((item, index) => (
          <FeedArticle key={item.itemId} index={index} {...(item.tweet ? { tweetId: item.tweet.tweetId } : {})}>
            {item.repostedByUserId !== '0' ? <p className="context">Reposted by {user.displayName}</p> : null}
            {item.tweet ? <TweetCard id={item.tweet.tweetId} /> : null}
          </FeedArticle>
        ))}
      </Feed>
      {!isLoading && items.length === 0 ? <p>No posts yet.</p> : null}
      <LoadMore hasMore={hasNextPage} loading={isFetchingNextPage} onLoad={() => void fetchNextPage()} />
    </>
  );
}

export function ProfilePage() {
  const { username = '' } = useParams();
  const { data: user, error } = useProfileByUsernameQuery(username);
  const { data: me } = useOwnProfileQuery();
  const [withReplies, setWithReplies] = useState(false);
  if (error) {
    return (
      <Page title="Not found">
        <p>{(error as ApiError).status === 404 ? `Nobody is called @${username}.` : (error as ApiError).message}</p>
      </Page>
    );
  }
  if (!user) return <Page title={`@${username}`}>{null}</Page>;
  return (
    <Page title={user.displayName}>
      <section className="profile" aria-label="Profile">
        <p>@{user.username}</p>
        {user.bio ? <p>{user.bio}</p> : null}
        <p>
          <Link to={`/u/${user.username}/following`}>
            <strong>{user.followingCount}</strong> following
          </Link>{' '}
          ·{' '}
          <Link to={`/u/${user.username}/followers`}>
            <strong>{user.followersCount}</strong> followers
          </Link>{' '}
          · <strong>{user.tweetCount}</strong> posts
        </p>
        {me && me.userId !== user.userId ? <FollowButton user={user} /> : null}
        {me && me.userId === user.userId ? <Link to="/settings">Edit profile</Link> : null}
      </section>
      <div className="tabs" role="group" aria-label="Which posts">
        <button type="button" aria-pressed={!withReplies} onClick={() => setWithReplies(false)}>
          Posts
        </button>
        <button type="button" aria-pressed={withReplies} onClick={() => setWithReplies(true)}>
          Posts and replies
        </button>
      </div>
      <UserTweets user={user} excludeReplies={!withReplies} />
    </Page>
  );
}
