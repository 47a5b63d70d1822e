// One polite and one assertive live region for the whole app: whatever needs saying to a
// screen reader (a toggle that failed, new posts, the counter near its limit) goes here, so
// announcements never race between regions that mount and unmount.

import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

export interface Announcement {
  text: string;
  /** Changes with every announcement, so the same words twice are said twice. */
  serial: number;
}

export interface LiveState {
  polite: Announcement;
  assertive: Announcement;
}

const initialState: LiveState = {
  polite: { text: '', serial: 0 },
  assertive: { text: '', serial: 0 },
};

const live = createSlice({
  name: 'live',
  initialState,
  reducers: {
    said(state, action: PayloadAction<string>) {
      state.polite = { text: action.payload, serial: state.polite.serial + 1 };
    },
    alerted(state, action: PayloadAction<string>) {
      state.assertive = { text: action.payload, serial: state.assertive.serial + 1 };
    },
  },
});

export const { said, alerted } = live.actions;
export const liveReducer = live.reducer;
