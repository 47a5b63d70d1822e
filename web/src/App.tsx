import { useCallback, useState, type ReactNode } from 'react';
import { NavLink, Navigate, Route, Routes } from 'react-router';
import { useNotificationMarkerQuery, useOwnProfileQuery } from './api/api';
import { useAppDispatch, useAppSelector } from './app/hooks';
import { LogInPage } from './features/auth/LogInPage';
import { SignUpPage } from './features/auth/SignUpPage';
import { ComposeDialog } from './features/compose/ComposeDialog';
import { opened } from './features/compose/dialog';
import { HashtagPage } from './features/hashtag/HashtagPage';
import { HomePage } from './features/home/HomePage';
import { LiveRegions } from './features/live/LiveRegions';
import { NotificationsPage } from './features/notifications/NotificationsPage';
import { ConnectionsPage } from './features/profile/ConnectionsPage';
import { ProfilePage } from './features/profile/ProfilePage';
import { SearchPage } from './features/search/SearchPage';
import { SettingsPage } from './features/settings/SettingsPage';
import { ShortcutsHelp } from './features/shortcuts/ShortcutsHelp';
import { useHotkeys } from './features/shortcuts/useHotkeys';
import { ThreadPage } from './features/thread/ThreadPage';
import { Page } from './Page';

function SignedInNav() {
  const dispatch = useAppDispatch();
  return (
    <>
      <li>
        <NavLink to="/">Home</NavLink>
      </li>
      <NotificationsLink />
      <li>
        <NavLink to="/search">Search</NavLink>
      </li>
      <OwnProfileLink />
      <li>
        <NavLink to="/settings">Settings</NavLink>
      </li>
      <li>
        <button type="button" className="primary" onClick={() => dispatch(opened({}))}>
          New post
        </button>
      </li>
    </>
  );
}

/** What only a signed-in reader has: the shortcuts and the dialogs they open. */
function SignedInExtras() {
  const [help, setHelp] = useState(false);
  const openHelp = useCallback(() => setHelp(true), []);
  useHotkeys(openHelp);
  return (
    <>
      <ComposeDialog />
      <ShortcutsHelp open={help} onClose={() => setHelp(false)} />
    </>
  );
}

function SignedInOnly({ signedIn, children }: { signedIn: boolean; children: ReactNode }) {
  return signedIn ? children : <Navigate to="/login" replace />;
}

export function App() {
  const signedIn = useAppSelector((state) => state.session.signedIn);
  return (
    <>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <div className="layout">
        <nav aria-label="Main">
          <ul>
            {signedIn ? (
              <SignedInNav />
            ) : (
              <>
                <li>
                  <NavLink to="/login">Log in</NavLink>
                </li>
                <li>
                  <NavLink to="/signup">Sign up</NavLink>
                </li>
              </>
            )}
          </ul>
        </nav>
        <Routes>
          <Route path="/" element={<SignedInOnly signedIn={signedIn}><HomePage /></SignedInOnly>} />
          <Route path="/login" element={signedIn ? <Navigate to="/" replace /> : <LogInPage />} />
          <Route path="/signup" element={signedIn ? <Navigate to="/" replace /> : <SignUpPage />} />
          <Route path="/u/:username" element={<ProfilePage />} />
          <Route path="/u/:username/followers" element={<ConnectionsPage which="followers" />} />
          <Route path="/u/:username/following" element={<ConnectionsPage which="following" />} />
          <Route path="/t/:tweetId" element={<ThreadPage />} />
          <Route path="/hashtag/:tag" element={<HashtagPage />} />
          <Route path="/search" element={<SearchPage />} />
          <Route path="/notifications" element={<SignedInOnly signedIn={signedIn}><NotificationsPage /></SignedInOnly>} />
          <Route path="/settings" element={<SignedInOnly signedIn={signedIn}><SettingsPage /></SignedInOnly>} />
          <Route
            path="*"
            element={
              <Page title="Not found">
                <p>
                  There is nothing here. <NavLink to="/">Go home</NavLink>.
                </p>
              </Page>
            }
          />
        </Routes>
      </div>
      {signedIn ? <SignedInExtras /> : null}
      <LiveRegions />
    </>
  );
}

/**
 * "Profile", once the reader's username is known. Until then an invisible item of the same
 * size holds its place, so the links below it do not move under a pointer about to click one.
 */
function OwnProfileLink() {
  const { data: me } = useOwnProfileQuery();
  if (!me) {
    return (
      <li className="placeholder" aria-hidden="true">
        <span>Profile</span>
      </li>
    );
  }
  return (
    <li>
      <NavLink to={`/u/${me.username}`}>Profile</NavLink>
    </li>
  );
}

/** "Notifications", with the unread count while there is one (checked every 30 s). */
function NotificationsLink() {
  const { data: marker } = useNotificationMarkerQuery(undefined, {
    pollingInterval: 30_000,
    skipPollingIfUnfocused: true,
  });
  const unread = marker ? Number(marker.unreadCount) : 0;
  return (
    <li>
      <NavLink to="/notifications">
        Notifications
        {unread > 0 ? <strong> ({unread >= 1000 ? '999+' : unread} unread)</strong> : null}
      </NavLink>
    </li>
  );
}
