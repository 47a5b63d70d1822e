import { configureStore, createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { api, onSignedOut } from '../api/api';
import * as session from '../api/session';

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

// RTK's serializability and immutability checks stay on (the defaults in development).
export const store = configureStore({
  reducer: { session: sessionSlice.reducer, [api.reducerPath]: api.reducer },
  middleware: (getDefault) => getDefault().concat(api.middleware),
});

onSignedOut((reason) => {
  store.dispatch(signedOut(reason));
  store.dispatch(api.util.resetApiState());
});

export type RootState = ReturnType<typeof store.getState>;
export type AppDispatch = typeof store.dispatch;
