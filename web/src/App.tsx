import { NavLink, Navigate, Route, Routes } from 'react-router';
import { useNotificationMarkerQuery, useOwnProfileQuery } from './api/api';
import { useAppSelector } from './app/hooks';
import { LogInPage } from './features/auth/LogInPage';
import { SignUpPage } from './features/auth/SignUpPage';
import { HomePage } from './features/home/HomePage';
import { NotificationsPage } from './features/notifications/NotificationsPage';
import { ProfilePage } from './features/profile/ProfilePage';
import { ThreadPage } from './features/thread/ThreadPage';
import { Page } from './Page';

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
              <>
                <li>
                  <NavLink to="/">Home</NavLink>
                </li>
                <NotificationsLink />
                <OwnProfileLink />
              </>
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
          <Route path="/" element={signedIn ? <HomePage /> : <Navigate to="/login" replace />} />
          <Route path="/login" element={signedIn ? <Navigate to="/" replace /> : <LogInPage />} />
          <Route path="/signup" element={signedIn ? <Navigate to="/" replace /> : <SignUpPage />} />
          <Route path="/u/:username" element={<ProfilePage />} />
          <Route path="/t/:tweetId" element={<ThreadPage />} />
          <Route
            path="/notifications"
            element={signedIn ? <NotificationsPage /> : <Navigate to="/login" replace />}
          />
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
    </>
  );
}

function OwnProfileLink() {
  const { data: me } = useOwnProfileQuery();
  if (!me) return null;
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
