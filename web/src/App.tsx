import { NavLink, Navigate, Route, Routes } from 'react-router';
import { useOwnProfileQuery } from './api/api';
import { useAppSelector } from './app/hooks';
import { LogInPage } from './features/auth/LogInPage';
import { SignUpPage } from './features/auth/SignUpPage';
import { HomePage } from './features/home/HomePage';
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
