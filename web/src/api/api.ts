// Every request, as RTK Query endpoints over the base query.

import { createApi } from '@reduxjs/toolkit/query/react';
import { browserTransport, createBaseQuery } from './baseQuery';
import * as session from './session';
import type {
  HashtagPage,
  HomeTimelinePage,
  NotificationMarker,
  NotificationsPage,
  Profile,
  ProfilesPage,
  Relationship,
  Thread,
  TokenPair,
  Tweet,
  UserTweetsPage,
} from './types';

/** Cursor lists paged by `maxId`: the first page has none ('0'), the last says '0' next. */
const olderByMaxId = {
  initialPageParam: '0',
  getNextPageParam: (last: { nextMaxId: string }) => (last.nextMaxId === '0' ? undefined : last.nextMaxId),
};

/** The `maxId` query parameter of a page after the first. */
const below = (pageParam: string) => (pageParam === '0' ? {} : { maxId: pageParam });

let signedOutListener: (reason: string) => void = () => {};

/** The app's reaction to a session that ended (set once, by the store). */
export function onSignedOut(listener: (reason: string) => void): void {
  signedOutListener = listener;
}

export interface SignUpRequest {
  username: string;
  email: string;
  password: string;
  displayName: string;
}

export interface NewTweet {
  text: string;
  replyToId?: string;
  quoteOfId?: string;
  /** One per draft: a retried post never doubles. */
  idempotencyKey: string;
}

interface SignedIn {
  userId: string;
  tokens: TokenPair;
}

export const api = createApi({
  reducerPath: 'api',
  baseQuery: createBaseQuery(browserTransport((reason) => signedOutListener(reason))),
  tagTypes: ['Me', 'Home', 'Profile', 'Relationship', 'UserTweets', 'Thread', 'Notifications', 'Marker', 'Graph'],
  endpoints: (build) => ({
    signUp: build.mutation<SignedIn, SignUpRequest>({
      query: (body) => ({ url: '/v1/auth/signup', method: 'POST', body }),
      async onQueryStarted(_, { queryFulfilled }) {
        const { data } = await queryFulfilled;
        session.storeTokens(data.tokens);
      },
      invalidatesTags: ['Me', 'Home'],
    }),
    logIn: build.mutation<SignedIn, { login: string; password: string }>({
      query: (body) => ({ url: '/v1/auth/login', method: 'POST', body }),
      async onQueryStarted(_, { queryFulfilled }) {
        const { data } = await queryFulfilled;
        session.storeTokens(data.tokens);
      },
      invalidatesTags: ['Me', 'Home'],
    }),
    ownProfile: build.query<Profile, void>({
      query: () => '/v1/profile',
      transformResponse: (body: { profile: Profile }) => body.profile,
      providesTags: ['Me'],
    }),
    logOut: build.mutation<void, void>({
      query: () => ({ url: '/v1/auth/logout', method: 'POST', body: { refreshToken: session.refreshToken() ?? '' } }),
      async onQueryStarted(_, { queryFulfilled }) {
        // Signed out here whatever the server says: the refresh token is gone from this browser.
        await queryFulfilled.catch(() => undefined);
        session.clearTokens();
      },
    }),
    changePassword: build.mutation<void, { currentPassword: string; newPassword: string }>({
      query: (body) => ({ url: '/v1/auth/password', method: 'POST', body }),
      // Every other session ends; this one goes on with the new pair.
      transformResponse: (body: { tokens?: TokenPair }) => {
        if (body.tokens) session.storeTokens(body.tokens);
      },
    }),
    updateProfile: build.mutation<Profile, { displayName: string; bio: string }>({
      query: (body) => ({ url: '/v1/profile', method: 'PATCH', body }),
      transformResponse: (body: { profile: Profile }) => body.profile,
      invalidatesTags: ['Me', 'Profile'],
    }),
    homeTimeline: build.infiniteQuery<HomeTimelinePage, void, string>({
      query: ({ pageParam }) => ({
        url: '/v1/timeline/home',
        params: { limit: 20, ...below(pageParam) },
      }),
      infiniteQueryOptions: olderByMaxId,
      providesTags: ['Home'],
    }),
    /** The newest home items after `sinceId` (polled while the page is visible). */
    homeSince: build.query<HomeTimelinePage, string>({
      query: (sinceId) => ({ url: '/v1/timeline/home', params: { limit: 20, sinceId } }),
    }),
    /** A page of home items older than `maxId` and newer than `sinceId`: fills a hole. */
    homeBetween: build.query<HomeTimelinePage, { maxId: string; sinceId: string }>({
      query: ({ maxId, sinceId }) => ({ url: '/v1/timeline/home', params: { limit: 20, maxId, sinceId } }),
    }),
    createTweet: build.mutation<Tweet, NewTweet>({
      query: (body) => ({ url: '/v1/tweets', method: 'POST', body }),
      transformResponse: (body: { tweet: Tweet }) => body.tweet,
      invalidatesTags: ['UserTweets', 'Thread'],
    }),
    deleteTweet: build.mutation<void, string>({
      query: (tweetId) => ({ url: `/v1/tweets/${tweetId}`, method: 'DELETE' }),
      invalidatesTags: ['UserTweets', 'Thread'],
    }),
    setLiked: build.mutation<Tweet, { tweetId: string; on: boolean }>({
      query: ({ tweetId, on }) => ({ url: `/v1/tweets/${tweetId}/like`, method: on ? 'POST' : 'DELETE' }),
      transformResponse: (body: { tweet: Tweet }) => body.tweet,
    }),
    setReposted: build.mutation<Tweet, { tweetId: string; on: boolean }>({
      query: ({ tweetId, on }) => ({ url: `/v1/tweets/${tweetId}/repost`, method: on ? 'POST' : 'DELETE' }),
      transformResponse: (body: { tweet: Tweet }) => body.tweet,
      invalidatesTags: ['UserTweets'],
    }),
    profileByUsername: build.query<Profile, string>({
      query: (username) => `/v1/usernames/${encodeURIComponent(username)}`,
      transformResponse: (body: { profile: Profile }) => body.profile,
      providesTags: (profile) => (profile ? [{ type: 'Profile', id: profile.userId }] : []),
    }),
    relationship: build.query<Relationship | undefined, string>({
      query: (userId) => ({ url: '/v1/relationships', params: { userIds: [userId] } }),
      transformResponse: (body: { relationships?: Relationship[] }) => body.relationships?.[0],
      providesTags: (_, __, userId) => [{ type: 'Relationship', id: userId }],
    }),
    setFollowing: build.mutation<Relationship, { userId: string; follow: boolean }>({
      query: ({ userId, follow }) => ({
        url: `/v1/users/${userId}/follow`,
        method: follow ? 'POST' : 'DELETE',
      }),
      transformResponse: (body: { relationship: Relationship }) => body.relationship,
      // The relationship itself comes back in the answer (entities); the counts and lists move.
      invalidatesTags: (_, __, { userId }) => [{ type: 'Profile', id: userId }, 'Me', 'Graph'],
    }),
    connections: build.infiniteQuery<ProfilesPage, { userId: string; which: 'followers' | 'following' }, string>({
      query: ({ queryArg, pageParam }) => ({
        url: `/v1/users/${queryArg.userId}/${queryArg.which}`,
        params: { limit: 20, ...(pageParam === '' ? {} : { cursor: pageParam }) },
      }),
      infiniteQueryOptions: {
        initialPageParam: '',
        getNextPageParam: (last) => (last.nextCursor === '' ? undefined : last.nextCursor),
      },
      providesTags: ['Graph'],
    }),
    relationships: build.query<Relationship[], string[]>({
      query: (userIds) => ({ url: '/v1/relationships', params: { userIds } }),
      transformResponse: (body: { relationships?: Relationship[] }) => body.relationships ?? [],
      providesTags: ['Relationship'],
    }),
    searchUsers: build.query<Profile[], string>({
      query: (query) => ({ url: '/v1/search/users', params: { query, limit: 20 } }),
      transformResponse: (body: { profiles?: Profile[] }) => body.profiles ?? [],
    }),
    hashtagTweets: build.infiniteQuery<HashtagPage, string, string>({
      query: ({ queryArg, pageParam }) => ({
        url: `/v1/hashtags/${encodeURIComponent(queryArg)}/tweets`,
        params: { limit: 20, ...below(pageParam) },
      }),
      infiniteQueryOptions: olderByMaxId,
    }),
    userTweets: build.infiniteQuery<UserTweetsPage, { userId: string; excludeReplies: boolean }, string>({
      query: ({ queryArg, pageParam }) => ({
        url: `/v1/users/${queryArg.userId}/tweets`,
        params: {
          limit: 20,
          excludeReplies: queryArg.excludeReplies,
          ...below(pageParam),
        },
      }),
      infiniteQueryOptions: olderByMaxId,
      providesTags: ['UserTweets'],
    }),
    notifications: build.infiniteQuery<NotificationsPage, void, string>({
      query: ({ pageParam }) => ({
        url: '/v1/notifications',
        params: { limit: 20, ...below(pageParam) },
      }),
      infiniteQueryOptions: olderByMaxId,
      providesTags: ['Notifications'],
    }),
    notificationMarker: build.query<NotificationMarker, void>({
      query: () => '/v1/notifications/marker',
      providesTags: ['Marker'],
    }),
    markRead: build.mutation<NotificationMarker, string>({
      query: (lastReadId) => ({ url: '/v1/notifications/marker', method: 'PUT', body: { lastReadId } }),
      invalidatesTags: ['Marker'],
    }),
    tweet: build.query<Tweet, string>({
      query: (tweetId) => `/v1/tweets/${tweetId}`,
      transformResponse: (body: { tweet: Tweet }) => body.tweet,
    }),
    thread: build.query<Thread, string>({
      query: (tweetId) => `/v1/tweets/${tweetId}/thread`,
      providesTags: (_, __, tweetId) => [{ type: 'Thread', id: tweetId }],
    }),
  }),
});

export const {
  useSignUpMutation,
  useLogInMutation,
  useLogOutMutation,
  useChangePasswordMutation,
  useUpdateProfileMutation,
  useHomeSinceQuery,
  useLazyHomeBetweenQuery,
  useDeleteTweetMutation,
  useConnectionsInfiniteQuery,
  useRelationshipsQuery,
  useSearchUsersQuery,
  useHashtagTweetsInfiniteQuery,
  useOwnProfileQuery,
  useHomeTimelineInfiniteQuery,
  useCreateTweetMutation,
  useProfileByUsernameQuery,
  useRelationshipQuery,
  useSetFollowingMutation,
  useUserTweetsInfiniteQuery,
  useThreadQuery,
  useNotificationsInfiniteQuery,
  useNotificationMarkerQuery,
  useMarkReadMutation,
} = api;
