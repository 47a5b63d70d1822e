import { useEffect } from 'react';
import { Link } from 'react-router';
import { useMarkReadMutation, useNotificationsInfiniteQuery } from '../../api/api';
import type { ApiError } from '../../api/errors';
import type { Notification, NotificationKind } from '../../api/types';
import { Page } from '../../Page';
import { Feed, FeedArticle } from '../../components/Feed';
import { LoadMore } from '../../components/LoadMore';
import { TweetCard } from '../tweets/TweetCard';

const DOING: Record<NotificationKind, string> = {
  NOTIFICATION_KIND_MENTION: 'mentioned you',
  NOTIFICATION_KIND_REPLY: 'replied to your post',
  NOTIFICATION_KIND_LIKE: 'liked your post',
  NOTIFICATION_KIND_REPOST: 'reposted your post',
  NOTIFICATION_KIND_QUOTE: 'quoted your post',
  NOTIFICATION_KIND_FOLLOW: 'followed you',
};

function Line({ notification }: { notification: Notification }) {
  const actor = notification.actor;
  const tweet = notification.card?.tweet;
  return (
    <>
      <p>
        {actor ? (
          <Link to={`/u/${actor.username}`}>
            <span className="who">{actor.displayName}</span>
          </Link>
        ) : (
          'Someone'
        )}{' '}
        {DOING[notification.kind] ?? 'did something'}
      </p>
      {tweet ? (
        <TweetCard id={tweet.tweetId} />
      ) : notification.kind !== 'NOTIFICATION_KIND_FOLLOW' ? (
        <p className="context">The post is no longer there.</p>
      ) : null}
    </>
  );
}

export function NotificationsPage() {
  const { data, error, isLoading, hasNextPage, fetchNextPage, isFetchingNextPage } = useNotificationsInfiniteQuery();
  const [markRead] = useMarkReadMutation();
  const notifications = data?.pages.flatMap((page) => page.notifications) ?? [];
  const newest = notifications[0]?.notificationId;

  // Seeing the list reads it: the marker moves to the newest shown (it never moves back).
  useEffect(() => {
    if (newest) void markRead(newest);
  }, [newest, markRead]);

  return (
    <Page title="Notifications">
      {error ? (
        <p role="alert" className="error">
          {(error as ApiError).message}
        </p>
      ) : null}
      <Feed label="Notifications" busy={isLoading || isFetchingNextPage}>
        {notifications.map((notification, index) => (
          <FeedArticle
            key={notification.notificationId}
            index={index}
            {...(notification.card?.tweet ? { tweetId: notification.card.tweet.tweetId } : {})}
          >
            <Line notification={notification} />
          </FeedArticle>
        ))}
      </Feed>
      {!isLoading && notifications.length === 0 ? <p>No notifications yet.</p> : null}
      <LoadMore
        hasMore={hasNextPage}
        loading={isFetchingNextPage}
        onLoad={() => void fetchNextPage()}
        what="notifications"
      />
    </Page>
  );
}
