// The REST API's JSON (proto3 JSON through the edge): lowerCamelCase, int64 as strings,
// zero values printed, absent messages left out.

export type Id = string;

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

export interface Profile {
  userId: Id;
  username: string;
  displayName: string;
  bio: string;
  createdAt?: string;
  followersCount: string;
  followingCount: string;
  tweetCount: string;
}

export interface ViewerState {
  liked: boolean;
  reposted: boolean;
}

export interface Tweet {
  tweetId: Id;
  authorId: Id;
  text: string;
  createdAt?: string;
  replyToTweetId: Id;
  quoteOfTweetId: Id;
  likeCount: string;
  replyCount: string;
  repostCount: string;
  quoteCount: string;
  viewer?: ViewerState;
  author?: Profile;
  quoted?: Tweet;
}

export interface TweetCard {
  tweet?: Tweet;
  author?: Profile;
  quoted?: { tweet?: Tweet; author?: Profile };
}

export interface TimelineItem {
  itemId: Id;
  card?: TweetCard;
  repostedBy?: Profile;
  repostedAt?: string;
}

export interface HomeTimelinePage {
  items: TimelineItem[];
  nextMaxId: Id;
}

export interface FeedItem {
  itemId: Id;
  tweet?: Tweet;
  repostedByUserId: Id;
  repostedAt?: string;
}

export interface UserTweetsPage {
  items: FeedItem[];
  nextMaxId: Id;
}

export interface HashtagPage {
  tweets: Tweet[];
  nextMaxId: Id;
}

export interface ProfilesPage {
  profiles: Profile[];
  nextCursor: string;
}

export interface Thread {
  ancestors: Tweet[];
  tweet?: Tweet;
  replies: Tweet[];
  nextRepliesAfterId: Id;
}

export interface Relationship {
  userId: Id;
  following: boolean;
  followedBy: boolean;
}

export type NotificationKind =
  | 'NOTIFICATION_KIND_MENTION'
  | 'NOTIFICATION_KIND_REPLY'
  | 'NOTIFICATION_KIND_LIKE'
  | 'NOTIFICATION_KIND_REPOST'
  | 'NOTIFICATION_KIND_QUOTE'
  | 'NOTIFICATION_KIND_FOLLOW';

export interface Notification {
  notificationId: Id;
  kind: NotificationKind;
  actor?: Profile;
  card?: TweetCard;
  createdAt?: string;
}

export interface NotificationsPage {
  notifications: Notification[];
  nextMaxId: Id;
  unreadCount: string;
}

export interface NotificationMarker {
  lastReadId: Id;
  unreadCount: string;
}
