// Every request, as RTK Query endpoints over the base query.

import { createApi } from '@reduxjs/toolkit/query/react';
import { browserTransport, createBaseQuery } from './baseQuery';
import * as session from './session';
import type {
  HomeTimelinePage,
  NotificationMarker,
  NotificationsPage,
  Profile,
  Relationship,
  Thread,
  TokenPair,
  Tweet,
  UserTweetsPage,
} from './types';

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
  tagTypes: ['Me', 'Home', 'Profile', 'Relationship', 'UserTweets', 'Thread', 'Notifications', 'Marker'],
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
    homeTimeline: build.infiniteQuery<HomeTimelinePage, void, string>({
      query: ({ pageParam }) => ({
        url: '/v1/timeline/home',
        params: { limit: 20, ...(pageParam === '0' ? {} : { maxId: pageParam }) },
      }),
      infiniteQueryOptions: {
        initialPageParam: '0',
        getNextPageParam: (last) => (last.nextMaxId === '0' ? undefined : last.nextMaxId),
      },
      providesTags: ['Home'],
    }),
    createTweet: build.mutation<Tweet, NewTweet>({
      query: (body) => ({ url: '/v1/tweets', method: 'POST', body }),
      transformResponse: (body: { tweet: Tweet }) => body.tweet,
      invalidatesTags: ['Home', 'UserTweets', 'Thread'],
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
      invalidatesTags: (_, __, { userId }) => [
        { type: 'Relationship', id: userId },
        { type: 'Profile', id: userId },
        'Home',
      ],
    }),
    userTweets: build.infiniteQuery<UserTweetsPage, { userId: string; excludeReplies: boolean }, string>({
      query: ({ queryArg, pageParam }) => ({
        url: `/v1/users/${queryArg.userId}/tweets`,
        params: {
          limit: 20,
          excludeReplies: queryArg.excludeReplies,
          ...(pageParam === '0' ? {} : { maxId: pageParam }),
        },
      }),
      infiniteQueryOptions: {
        initialPageParam: '0',
        getNextPageParam: (last) => (last.nextMaxId === '0' ? undefined : last.nextMaxId),
      },
      providesTags: ['UserTweets'],
    }),
    notifications: build.infiniteQuery<NotificationsPage, void, string>({
      query: ({ pageParam }) => ({
        url: '/v1/notifications',
        params: { limit: 20, ...(pageParam === '0' ? {} : { maxId: pageParam }) },
      }),
      infiniteQueryOptions: {
        initialPageParam: '0',
        getNextPageParam: (last) => (last.nextMaxId === '0' ? undefined : last.nextMaxId),
      },
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
    thread: build.query<Thread, string>({
      query: (tweetId) => `/v1/tweets/${tweetId}/thread`,
      providesTags: (_, __, tweetId) => [{ type: 'Thread', id: tweetId }],
    }),
  }),
});

export const {
  useSignUpMutation,
  useLogInMutation,
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
