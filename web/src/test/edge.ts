// The REST edge as the unit tests see it: MSW answers the client's real `fetch` calls, so the
// store, RTK Query and the base query run exactly as in the browser.

import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import * as session from '../api/session';
import type { Profile, Tweet } from '../api/types';

export const edge = setupServer();

/** Starts MSW around a test file, failing any request no handler answers. */
export function useEdge(): void {
  beforeAll(() => edge.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => {
    edge.resetHandlers();
    session.clearTokens();
    localStorage.clear();
  });
  afterAll(() => edge.close());
}

/** A signed-in reader whose access token is good for an hour. */
export function signIn(): void {
  const hour = Date.now() + 3_600_000;
  session.storeTokens({
    accessToken: 'access',
    accessTokenExpiresAt: new Date(hour).toISOString(),
    refreshToken: 'refresh',
    refreshTokenExpiresAt: new Date(hour + 3_600_000).toISOString(),
  });
}

export function profile(userId: string, username = `user${userId}`): Profile {
  return { userId, username, displayName: username, bio: '', followersCount: '0', followingCount: '0', tweetCount: '0' };
}

export function tweet(tweetId: string, over: Partial<Tweet> = {}): Tweet {
  return {
    tweetId,
    authorId: '1',
    text: `post ${tweetId}`,
    replyToTweetId: '0',
    quoteOfTweetId: '0',
    likeCount: '0',
    replyCount: '0',
    repostCount: '0',
    quoteCount: '0',
    viewer: { liked: false, reposted: false },
    ...over,
  };
}

/** Resolves when `check` holds, checked after every microtask and timer turn. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 200; turn += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}
