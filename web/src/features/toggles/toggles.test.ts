import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { api } from '../../api/api';
import { makeStore } from '../../app/store';
import { edge, signIn, tweet, until, useEdge } from '../../test/edge';
import type { RootState } from '../../app/store';
import { shownCounts } from './counts';
import { shownValue, toggle } from './toggles';

useEdge();

/** What the card of tweet 7 shows. */
const shownOf7 = (state: RootState) =>
  shownCounts(state.entities.tweets['7']!, shownValue(state, 'like', '7'), shownValue(state, 'repost', '7'));

/** A store that knows tweet 7 (liked by nobody, 3 likes) from a real response. */
async function storeWithTweet() {
  signIn();
  edge.use(http.get('/v1/tweets/7', () => HttpResponse.json({ tweet: tweet('7', { likeCount: '3' }) })));
  const store = makeStore();
  await store.dispatch(api.endpoints.tweet.initiate('7')).unwrap();
  return store;
}

/** A like endpoint that answers when told to, recording every request. */
function heldLikes() {
  const requests: string[] = [];
  const waiting: Array<() => void> = [];
  let likes = 3;
  let liked = false;
  const answer = (method: string) => async () => {
    requests.push(method);
    await new Promise<void>((resolve) => waiting.push(resolve));
    if (method === 'POST' && !liked) [liked, likes] = [true, likes + 1];
    if (method === 'DELETE' && liked) [liked, likes] = [false, likes - 1];
    return HttpResponse.json({ tweet: tweet('7', { likeCount: String(likes), viewer: { liked, reposted: false } }) });
  };
  edge.use(http.post('/v1/tweets/7/like', answer('POST')), http.delete('/v1/tweets/7/like', answer('DELETE')));
  const release = async () => {
    await until(() => waiting.length > 0, 'a request waiting');
    waiting.shift()?.();
  };
  return { requests, release };
}

describe('the toggle queue', () => {
  it('shows a like at once and sends like-unlike-like as one request', async () => {
    const store = await storeWithTweet();
    const server = heldLikes();
    const first = store.dispatch(toggle('like', '7'));
    expect(shownOf7(store.getState())).toMatchObject({ liked: true, likeCount: 4 });
    void store.dispatch(toggle('like', '7'));
    expect(shownOf7(store.getState())).toMatchObject({ liked: false, likeCount: 3 });
    void store.dispatch(toggle('like', '7'));
    await server.release();
    await first;
    expect(server.requests).toEqual(['POST']);
    expect(shownOf7(store.getState())).toMatchObject({ liked: true, likeCount: 4 });
    expect(store.getState().toggles).toEqual({});
  });

  it('sends like then unlike when the wish changed while the like was on its way', async () => {
    const store = await storeWithTweet();
    const server = heldLikes();
    const first = store.dispatch(toggle('like', '7'));
    void store.dispatch(toggle('like', '7'));
    await server.release();
    await server.release();
    await first;
    expect(server.requests).toEqual(['POST', 'DELETE']);
    expect(shownValue(store.getState(), 'like', '7')).toBe(false);
    expect(shownOf7(store.getState()).likeCount).toBe(3);
  });

  it('reverts a failed like and says so in the alert region', async () => {
    const store = await storeWithTweet();
    edge.use(
      http.post('/v1/tweets/7/like', () =>
        HttpResponse.json({ code: 14, message: 'svc-tweet is unavailable', details: [] }, { status: 503 }),
      ),
    );
    const running = store.dispatch(toggle('like', '7'));
    expect(shownValue(store.getState(), 'like', '7')).toBe(true);
    await running;
    expect(shownValue(store.getState(), 'like', '7')).toBe(false);
    expect(shownOf7(store.getState()).likeCount).toBe(3);
    expect(store.getState().live.assertive.text).toMatch(/^Could not like the post: /);
  });

  it('follows through the same queue', async () => {
    signIn();
    const store = makeStore();
    const requests: string[] = [];
    edge.use(
      http.post('/v1/users/9/follow', () => {
        requests.push('POST');
        return HttpResponse.json({ relationship: { userId: '9', following: true, followedBy: false } });
      }),
    );
    await store.dispatch(toggle('follow', '9'));
    expect(requests).toEqual(['POST']);
    expect(store.getState().entities.relationships['9']?.following).toBe(true);
  });
});

describe('the shown counts', () => {
  const base = tweet('1', { likeCount: '5', repostCount: '2', viewer: { liked: true, reposted: false } });
  it('move by the difference between the wish and the server', () => {
    expect(shownCounts(base, true, false)).toEqual({ liked: true, reposted: false, likeCount: 5, repostCount: 2 });
    expect(shownCounts(base, false, true)).toEqual({ liked: false, reposted: true, likeCount: 4, repostCount: 3 });
  });
  it('never go below zero', () => {
    expect(shownCounts(tweet('2', { viewer: { liked: true, reposted: true } }), false, false).likeCount).toBe(0);
  });
});
