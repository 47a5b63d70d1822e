// New home posts are found by polling with the newest id the feed holds and kept aside until
// the reader asks for them ("Show N new posts"): nothing moves under the reader's eyes. When
// more arrived than one page holds, the pages in between are fetched too (the hole is
// filled), up to a bound past which showing them reloads the timeline from the top.

import { createSlice, type PayloadAction, type ThunkAction, type UnknownAction } from '@reduxjs/toolkit';
import { api } from '../../api/api';
import { compareIds, maxId, newestFirst } from '../../api/ids';
import type { HomeTimelinePage, Id, TimelineItem, Tweet } from '../../api/types';
import type { RootState } from '../../app/store';

/** Pages fetched to fill one hole: 10 pages of 20. */
export const MAX_HOLE_PAGES = 10;

export interface NewPostsState {
  /** The newest id the server gave the feed (the reader's own posts, inserted, do not count). */
  since: Id | null;
  pending: TimelineItem[];
  /** More arrived than the hole pages hold: showing them reloads the timeline. */
  overflowed: boolean;
  /** Posts of the reader's own, put at the top at once. */
  own: Record<Id, true>;
}

const initialState: NewPostsState = { since: null, pending: [], overflowed: false, own: {} };

/** `incoming` and `held` as one list, newest first, each item once. */
export function mergeItems(incoming: readonly TimelineItem[], held: readonly TimelineItem[]): TimelineItem[] {
  const byId = new Map<Id, TimelineItem>();
  for (const item of [...held, ...incoming]) byId.set(item.itemId, item);
  return [...byId.values()].sort((a, b) => newestFirst(a.itemId, b.itemId));
}

const newPosts = createSlice({
  name: 'newPosts',
  initialState,
  reducers: {
    /** The feed's newest server item, seen when its first page loads. */
    sawNewest(state, action: PayloadAction<Id>) {
      if (state.since === null || compareIds(action.payload, state.since) > 0) state.since = action.payload;
    },
    arrived(state, action: PayloadAction<{ items: TimelineItem[]; overflowed: boolean }>) {
      const fresh = action.payload.items.filter((item) => !state.own[item.itemId]);
      state.pending = mergeItems(fresh, state.pending);
      state.overflowed ||= action.payload.overflowed;
      const newest = maxId(action.payload.items.map((item) => item.itemId));
      if (newest && (state.since === null || compareIds(newest, state.since) > 0)) state.since = newest;
    },
    shown(state) {
      state.pending = [];
      state.overflowed = false;
    },
    posted(state, action: PayloadAction<Id>) {
      state.own[action.payload] = true;
    },
    reset() {
      return initialState;
    },
  },
});

export const { sawNewest, arrived, shown, posted, reset } = newPosts.actions;
export const newPostsReducer = newPosts.reducer;

type Thunk<R> = ThunkAction<R, RootState, unknown, UnknownAction>;

/** One poll: the newest page after `since`, and the pages down to it when there are more. */
export function pollHome(): Thunk<Promise<void>> {
  return async (dispatch, getState) => {
    const since = getState().newPosts.since;
    if (since === null) return;
    const fetchPage = (args: { sinceId: Id; maxId?: Id }): Promise<HomeTimelinePage> =>
      args.maxId === undefined
        ? dispatch(api.endpoints.homeSince.initiate(args.sinceId, { subscribe: false, forceRefetch: true })).unwrap()
        : dispatch(
            api.endpoints.homeBetween.initiate({ maxId: args.maxId, sinceId: args.sinceId }, { subscribe: false, forceRefetch: true }),
          ).unwrap();
    let page = await fetchPage({ sinceId: since });
    const items = [...page.items];
    for (let pages = 1; page.nextMaxId !== '0' && pages < MAX_HOLE_PAGES; pages += 1) {
      page = await fetchPage({ sinceId: since, maxId: page.nextMaxId });
      items.push(...page.items);
    }
    dispatch(arrived({ items, overflowed: page.nextMaxId !== '0' }));
  };
}

/** "Show N new posts": the pending posts go to the top of the feed. */
export function showNewPosts(): Thunk<void> {
  return (dispatch, getState) => {
    const { pending, overflowed } = getState().newPosts;
    dispatch(shown());
    if (overflowed) {
      // The hole was deeper than we fetched: start again from the top rather than skip posts.
      dispatch(reset());
      dispatch(api.util.invalidateTags(['Home']));
      return;
    }
    dispatch(
      api.util.updateQueryData('homeTimeline', undefined, (feed) => {
        const first = feed.pages[0];
        if (first) first.items = mergeItems(pending, first.items);
      }),
    );
  };
}

/** The reader's own new post, at the top of their feed at once. */
export function ownPostAppeared(tweet: Tweet): Thunk<void> {
  return (dispatch) => {
    if (tweet.replyToTweetId !== '0') return; // replies live in threads
    const item: TimelineItem = {
      itemId: tweet.tweetId,
      card: {
        tweet,
        ...(tweet.author ? { author: tweet.author } : {}),
        ...(tweet.quoted ? { quoted: { tweet: tweet.quoted, ...(tweet.quoted.author ? { author: tweet.quoted.author } : {}) } } : {}),
      },
    };
    const { patches } = dispatch(
      api.util.updateQueryData('homeTimeline', undefined, (feed) => {
        const first = feed.pages[0];
        if (first) first.items = mergeItems([item], first.items);
      }),
    );
    // Not loaded yet (nothing to patch): the post comes with the timeline, or with the next
    // poll, like anyone's.
    if (patches.length > 0) dispatch(posted(tweet.tweetId));
  };
}
