import { combineReducers, configureStore, createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { setupListeners } from '@reduxjs/toolkit/query';
import { api, onSignedOut } from '../api/api';
import * as session from '../api/session';
import { composerReducer } from '../features/compose/dialog';
import { cleared, entitiesReducer } from '../features/entities/entities';
import { reset as resetNewPosts, newPostsReducer } from '../features/home/newPosts';
import { alerted, liveReducer } from '../features/live/live';
import { togglesReducer } from '../features/toggles/toggles';

interface SessionState {
  signedIn: boolean;
  /** Why the session ended, shown on the login page. */
  notice: string | null;
}

const sessionSlice = createSlice({
  name: 'session',
  initialState: (): SessionState => ({ signedIn: session.refreshToken() !== null, notice: null }),
  reducers: {
    signedIn(state) {
      state.signedIn = true;
      state.notice = null;
    },
    signedOut(state, action: PayloadAction<string | null>) {
      state.signedIn = false;
      state.notice = action.payload;
    },
  },
});

export const { signedIn, signedOut } = sessionSlice.actions;

const reducer = combineReducers({
  session: sessionSlice.reducer,
  entities: entitiesReducer,
  toggles: togglesReducer,
  newPosts: newPostsReducer,
  live: liveReducer,
  composer: composerReducer,
  [api.reducerPath]: api.reducer,
});

/** A store of its own (the app has one; every test makes a fresh one). RTK's serializability
 * and immutability checks stay on (the defaults in development and tests). */
export function makeStore() {
  const store = configureStore({
    reducer,
    middleware: (getDefault) => getDefault().concat(api.middleware),
  });
  // Polling pauses while the page is hidden, and lists refresh when it comes back.
  setupListeners(store.dispatch);
  return store;
}

export type AppStore = ReturnType<typeof makeStore>;
export type RootState = ReturnType<AppStore['getState']>;
export type AppDispatch = AppStore['dispatch'];

/** Everything of the session goes; drafts stay (they are the reader's, not the session's). */
export function endSession(store: AppStore, reason: string | null): void {
  store.dispatch(signedOut(reason));
  store.dispatch(api.util.resetApiState());
  store.dispatch(cleared());
  store.dispatch(resetNewPosts());
  if (reason) store.dispatch(alerted(reason));
}

export const store = makeStore();
onSignedOut((reason) => endSession(store, reason));
