// Tweets, profiles and relationships normalised by id, filled from every API response, so a
// like on the thread page shows on the home timeline too. A tweet is kept without its nested
// author and quoted tweet: those are entities of their own.

import { createSlice, type PayloadAction, type UnknownAction } from '@reduxjs/toolkit';
import type { Id, Profile, Relationship, Tweet } from '../../api/types';
import { collect } from './collect';

export type StoredTweet = Omit<Tweet, 'author' | 'quoted'>;

export interface EntitiesState {
  tweets: Record<Id, StoredTweet>;
  profiles: Record<Id, Profile>;
  relationships: Record<Id, Relationship>;
  /** Deleted here: hidden from every list that still holds them. */
  deleted: Record<Id, true>;
}

const initialState: EntitiesState = { tweets: {}, profiles: {}, relationships: {}, deleted: {} };

/** RTK Query's fulfilled queries and mutations (`api/executeQuery/fulfilled`, …). */
function isApiFulfilled(action: UnknownAction): action is UnknownAction & { payload: unknown } {
  return action.type.startsWith('api/') && action.type.endsWith('/fulfilled');
}

const entities = createSlice({
  name: 'entities',
  initialState,
  reducers: {
    tweetDeleted(state, action: PayloadAction<Id>) {
      state.deleted[action.payload] = true;
      delete state.tweets[action.payload];
    },
    cleared() {
      return initialState;
    },
  },
  extraReducers: (builder) => {
    builder.addMatcher(isApiFulfilled, (state, action) => {
      const found = collect(action.payload);
      for (const tweet of found.tweets) {
        const { author: _author, quoted: _quoted, ...stored } = tweet;
        const known = state.tweets[stored.tweetId];
        // Not every response says how the viewer stands (a quoted tweet may not): keep
        // what the last one that did said.
        state.tweets[stored.tweetId] = stored.viewer || !known?.viewer ? stored : { ...stored, viewer: known.viewer };
      }
      for (const profile of found.profiles) state.profiles[profile.userId] = profile;
      for (const relationship of found.relationships) {
        state.relationships[relationship.userId] = relationship;
      }
    });
  },
});

export const { tweetDeleted, cleared } = entities.actions;
export const entitiesReducer = entities.reducer;
