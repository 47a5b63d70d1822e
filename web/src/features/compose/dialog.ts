// The compose dialog (`n`, or Quote on a post): open or closed, and what it quotes.

import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { Id } from '../../api/types';

export interface ComposerState {
  open: boolean;
  quoteOf: Id | null;
}

const composer = createSlice({
  name: 'composer',
  initialState: { open: false, quoteOf: null } as ComposerState,
  reducers: {
    opened(state, action: PayloadAction<{ quoteOf?: Id }>) {
      state.open = true;
      state.quoteOf = action.payload.quoteOf ?? null;
    },
    closed(state) {
      state.open = false;
      state.quoteOf = null;
    },
  },
});

export const { opened, closed } = composer.actions;
export const composerReducer = composer.reducer;
