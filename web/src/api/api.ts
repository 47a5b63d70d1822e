// Every request, as RTK Query endpoints over the base query.

import { createApi } from '@reduxjs/toolkit/query/react';
import { browserTransport, createBaseQuery } from './baseQuery';
import * as session from './session';
import type { HomeTimelinePage, Profile, TokenPair, Tweet } from './types';

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
  tagTypes: ['Me', 'Home'],
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
      invalidatesTags: ['Home'],
    }),
  }),
});

export const {
  useSignUpMutation,
  useLogInMutation,
  useOwnProfileQuery,
  useHomeTimelineInfiniteQuery,
  useCreateTweetMutation,
} = api;
