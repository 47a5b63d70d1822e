import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useLogInMutation } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { signedIn } from '../../app/store';
import { Page } from '../../Page';
import { ErrorSummary, Field } from './Field';

export function LogInPage() {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [logIn, { isLoading, error }] = useLogInMutation();
  const notice = useAppSelector((state) => state.session.notice);
  const dispatch = useAppDispatch();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await logIn({ login, password });
    if ('data' in result) dispatch(signedIn());
  };

  return (
    <Page title="Log in">
      {/* Announced once already, by the app's alert region, when the session ended. */}
      {notice ? <p className="notice">{notice}</p> : null}
      <form className="stacked" onSubmit={submit} noValidate>
        <ErrorSummary error={error as ApiError | undefined} />
        <Field
          name="login"
          label="Username or email"
          autoComplete="username"
          value={login}
          onChange={setLogin}
          error={error as ApiError | undefined}
        />
        <Field
          name="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
          error={error as ApiError | undefined}
        />
        <button className="primary" type="submit" disabled={isLoading}>
          {isLoading ? 'Logging in…' : 'Log in'}
        </button>
        <p>
          New here? <Link to="/signup">Sign up</Link>
        </p>
      </form>
    </Page>
  );
}
