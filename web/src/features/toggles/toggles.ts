// Likes, reposts and follows change on the screen at once and reach the server through one
// queue per item: while a request is in flight, further clicks only move the wanted state,
// and when it answers, one more request is sent only if the answer is not what is wanted
// now. Like-unlike-like sends one request; like-unlike two; it always ends where the last
// click left it. A failure drops the wish, so the item shows the server's state again, and
// says so.

import { createSlice, type PayloadAction, type ThunkAction, type UnknownAction } from '@reduxjs/toolkit';
import { api } from '../../api/api';
import type { ApiError } from '../../api/errors';
import type { Id } from '../../api/types';
import { alerted } from '../live/live';
import type { RootState } from '../../app/store';
import type { EntitiesState } from '../entities/entities';

export type ToggleKind = 'like' | 'repost' | 'follow';

export interface Wish {
  /** What the last click asked for. */
  wanted: boolean;
  inFlight: boolean;
}

export type TogglesState = Record<string, Wish>;

export const toggleKey = (kind: ToggleKind, id: Id): string => `${kind}:${id}`;

const toggles = createSlice({
  name: 'toggles',
  initialState: {} as TogglesState,
  reducers: {
    wished(state, action: PayloadAction<{ key: string; wanted: boolean }>) {
      const { key, wanted } = action.payload;
      state[key] = { wanted, inFlight: state[key]?.inFlight ?? false };
    },
    sending(state, action: PayloadAction<string>) {
      const wish = state[action.payload];
      if (wish) wish.inFlight = true;
    },
    /** Done (the server holds what was wanted) or failed: the entities say the rest. */
    settled(state, action: PayloadAction<string>) {
      delete state[action.payload];
    },
  },
});

export const { wished, sending, settled } = toggles.actions;
export const togglesReducer = toggles.reducer;

interface ToggleState {
  entities: EntitiesState;
  toggles: TogglesState;
}

/** What the server last said about the item. */
export function serverValue(entities: EntitiesState, kind: ToggleKind, id: Id): boolean {
  switch (kind) {
    case 'like':
      return entities.tweets[id]?.viewer?.liked ?? false;
    case 'repost':
      return entities.tweets[id]?.viewer?.reposted ?? false;
    case 'follow':
      return entities.relationships[id]?.following ?? false;
  }
}

/** What the screen shows: the last click's wish, else the server's state. */
export function shownValue(state: ToggleState, kind: ToggleKind, id: Id): boolean {
  return state.toggles[toggleKey(kind, id)]?.wanted ?? serverValue(state.entities, kind, id);
}

type Thunk<R> = ThunkAction<R, RootState, unknown, UnknownAction>;

/** Sends one request and answers the state the server now holds. */
function send(kind: ToggleKind, id: Id, on: boolean): Thunk<Promise<boolean>> {
  return async (dispatch) => {
    switch (kind) {
      case 'like': {
        const tweet = await dispatch(api.endpoints.setLiked.initiate({ tweetId: id, on })).unwrap();
        return tweet.viewer?.liked ?? on;
      }
      case 'repost': {
        const tweet = await dispatch(api.endpoints.setReposted.initiate({ tweetId: id, on })).unwrap();
        return tweet.viewer?.reposted ?? on;
      }
      case 'follow': {
        const relationship = await dispatch(api.endpoints.setFollowing.initiate({ userId: id, follow: on })).unwrap();
        return relationship.following;
      }
    }
  };
}

const FAILED: Record<ToggleKind, (on: boolean) => string> = {
  like: (on) => (on ? 'Could not like the post' : 'Could not undo the like'),
  repost: (on) => (on ? 'Could not repost' : 'Could not undo the repost'),
  follow: (on) => (on ? 'Could not follow' : 'Could not unfollow'),
};

/** A click on a like, repost or follow button. */
export function toggle(kind: ToggleKind, id: Id): Thunk<Promise<void>> {
  return async (dispatch, getState) => {
    const key = toggleKey(kind, id);
    const wanted = !shownValue(getState(), kind, id);
    const running = getState().toggles[key]?.inFlight ?? false;
    dispatch(wished({ key, wanted }));
    if (running) return; // the request in flight looks at the wish when it answers
    dispatch(sending(key));
    let server = serverValue(getState().entities, kind, id);
    try {
      for (;;) {
        const want = getState().toggles[key]?.wanted ?? server;
        if (want === server) break;
        server = await dispatch(send(kind, id, want));
      }
      dispatch(settled(key));
    } catch (error) {
      const want = getState().toggles[key]?.wanted ?? !server;
      dispatch(settled(key));
      dispatch(alerted(`${FAILED[kind](want)}: ${(error as ApiError).message ?? 'no answer'}`));
    }
  };
}
