import { useState } from 'react';
import { useParams } from 'react-router';
import {
  useOwnProfileQuery,
  useProfileByUsernameQuery,
  useRelationshipQuery,
  useSetFollowingMutation,
  useUserTweetsInfiniteQuery,
} from '../../api/api';
import type { ApiError } from '../../api/errors';
import type { Profile } from '../../api/types';
import { Page } from '../../Page';
import { LoadMore } from '../home/LoadMore';
import { CardOf } from '../home/TweetView';

function FollowButton({ user }: { user: Profile }) {
  const { data: relationship } = useRelationshipQuery(user.userId);
  const [setFollowing, { isLoading, error }] = useSetFollowingMutation();
  const following = relationship?.following ?? false;
  return (
    <>
      <button
        type="button"
        className={following ? undefined : 'primary'}
        aria-pressed={following}
        disabled={isLoading || relationship === undefined}
        onClick={() => void setFollowing({ userId: user.userId, follow: !following })}
      >
        {following ? 'Following' : 'Follow'}
      </button>
      {relationship?.followedBy ? <span> Follows you</span> : null}
      {error ? (
        <p className="error" role="alert">
          {(error as ApiError).message}
        </p>
      ) : null}
    </>
  );
}

function UserTweets({ user, excludeReplies }: { user: Profile; excludeReplies: boolean }) {
  const { data, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } = useUserTweetsInfiniteQuery({
    userId: user.userId,
    excludeReplies,
  });
  const items = data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <>
      <div role="feed" className="feed" aria-busy={isLoading || isFetchingNextPage} aria-label={`Posts by ${user.displayName}`}>
        {items.map((item, index) =>
          item.tweet ? (
            <article key={item.itemId} tabIndex={0} aria-posinset={index + 1} aria-setsize={-1}>
              {item.repostedByUserId !== '0' ? <p>Reposted by {user.displayName}</p> : null}
              <CardOf tweet={item.tweet} />
            </article>
          ) : null,
        )}
      </div>
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
          <strong>{user.followingCount}</strong> following · <strong>{user.followersCount}</strong> followers ·{' '}
          <strong>{user.tweetCount}</strong> posts
        </p>
        {me && me.userId !== user.userId ? <FollowButton user={user} /> : null}
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
