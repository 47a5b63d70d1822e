import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { api } from '../../api/api';
import type { TimelineItem } from '../../api/types';
import { makeStore } from '../../app/store';
import { edge, signIn, tweet, useEdge } from '../../test/edge';
import { MAX_HOLE_PAGES, mergeItems, ownPostAppeared, pollHome, sawNewest, showNewPosts } from './newPosts';

useEdge();

const item = (id: number): TimelineItem => ({ itemId: String(id), card: { tweet: tweet(String(id)) } });

/** A home timeline of items 1..`newest` served as the edge does: newest first, 20 a page,
 * `sinceId` and `maxId` exclusive, `nextMaxId` leading down towards `sinceId`. */
function homeOf(newest: () => number) {
  const requests: string[] = [];
  edge.use(
    http.get('/v1/timeline/home', ({ request }) => {
      const url = new URL(request.url);
      requests.push(url.search);
      const since = Number(url.searchParams.get('sinceId') ?? 0);
      const max = Number(url.searchParams.get('maxId') ?? newest() + 1);
      const ids: number[] = [];
      for (let id = max - 1; id > since && ids.length < 21; id -= 1) ids.push(id);
      const more = ids.length > 20;
      const page = ids.slice(0, 20);
      return HttpResponse.json({ items: page.map(item), nextMaxId: more ? String(page[19]) : '0' });
    }),
  );
  return requests;
}

async function readingHome(newest: { value: number }) {
  signIn();
  const requests = homeOf(() => newest.value);
  const store = makeStore();
  const feed = await store.dispatch(api.endpoints.homeTimeline.initiate()).unwrap();
  const top = feed.pages[0]?.items[0]?.itemId;
  if (top) store.dispatch(sawNewest(top));
  return { store, requests, feedIds: () => (api.endpoints.homeTimeline.select()(store.getState()).data?.pages[0]?.items ?? []).map((i) => i.itemId) };
}

describe('new posts on the home timeline', () => {
  it('wait behind the button until shown, then go on top in order', async () => {
    const newest = { value: 30 };
    const { store, feedIds } = await readingHome(newest);
    expect(feedIds().slice(0, 2)).toEqual(['30', '29']);
    newest.value = 33;
    await store.dispatch(pollHome());
    expect(store.getState().newPosts.pending.map((i) => i.itemId)).toEqual(['33', '32', '31']);
    expect(feedIds()[0]).toBe('30'); // nothing moved yet
    store.dispatch(showNewPosts());
    expect(feedIds().slice(0, 4)).toEqual(['33', '32', '31', '30']);
    expect(store.getState().newPosts.pending).toEqual([]);
    // The next poll starts after what was found.
    await store.dispatch(pollHome());
    expect(store.getState().newPosts.pending).toEqual([]);
  });

  it('fill a hole of more than a page by following nextMaxId down to sinceId', async () => {
    const newest = { value: 30 };
    const { store, requests, feedIds } = await readingHome(newest);
    newest.value = 30 + 45;
    requests.length = 0;
    await store.dispatch(pollHome());
    expect(requests).toEqual(['?limit=20&sinceId=30', '?limit=20&maxId=56&sinceId=30', '?limit=20&maxId=36&sinceId=30']);
    expect(store.getState().newPosts.pending).toHaveLength(45);
    store.dispatch(showNewPosts());
    const ids = feedIds();
    expect(ids.slice(0, 46)).toEqual(Array.from({ length: 46 }, (_, i) => String(75 - i)));
  });

  it('reload from the top when the hole is deeper than the bound', async () => {
    const newest = { value: 30 };
    const { store, requests } = await readingHome(newest);
    newest.value = 30 + 20 * MAX_HOLE_PAGES + 5;
    requests.length = 0;
    await store.dispatch(pollHome());
    expect(requests).toHaveLength(MAX_HOLE_PAGES);
    expect(store.getState().newPosts.overflowed).toBe(true);
    store.dispatch(showNewPosts());
    // The timeline is fetched again from the top.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests.at(-1)).toBe('?limit=20');
  });

  it('put the reader’s own post on top at once, without moving where polling starts', async () => {
    const newest = { value: 30 };
    const { store, feedIds } = await readingHome(newest);
    store.dispatch(ownPostAppeared(tweet('40')));
    expect(feedIds()[0]).toBe('40');
    expect(store.getState().newPosts.since).toBe('30');
    // Someone's post from before ours, and ours again: only theirs waits.
    newest.value = 31;
    await store.dispatch(pollHome());
    expect(store.getState().newPosts.pending.map((i) => i.itemId)).toEqual(['31']);
  });

  it('leave the reader’s own post to the poll when the timeline had not loaded yet', async () => {
    signIn();
    homeOf(() => 31);
    const store = makeStore();
    store.dispatch(ownPostAppeared(tweet('31')));
    store.dispatch(sawNewest('0'));
    await store.dispatch(pollHome());
    expect(store.getState().newPosts.pending.map((i) => i.itemId)).toContain('31');
  });

  it('merges lists newest first, each item once', () => {
    expect(mergeItems([item(5), item(3)], [item(4), item(3)]).map((i) => i.itemId)).toEqual(['5', '4', '3']);
  });
});
