import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useSignUpMutation } from '../../api/api';
import type { ApiError } from '../../api/errors';
import { useAppDispatch } from '../../app/hooks';
import { signedIn } from '../../app/store';
import { Page } from '../../Page';
import { ErrorSummary, Field } from './Field';

export function SignUpPage() {
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [signUp, { isLoading, error }] = useSignUpMutation();
  const dispatch = useAppDispatch();
  const apiError = error as ApiError | undefined;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await signUp({ username, email, password, displayName });
    if ('data' in result) dispatch(signedIn());
  };

  return (
    <Page title="Sign up">
      <form className="stacked" onSubmit={submit} noValidate>
        <ErrorSummary error={apiError} />
        <Field
          name="username"
          label="Username"
          hint="3 to 15 letters, digits or underscores."
          autoComplete="username"
          value={username}
          onChange={setUsername}
          error={apiError}
        />
        <Field name="email" label="Email" type="email" autoComplete="email" value={email} onChange={setEmail} error={apiError} />
        <Field
          name="password"
          label="Password"
          hint="At least 8 characters, not your username."
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
          error={apiError}
        />
        <Field
          name="display_name"
          label="Display name"
          hint="Optional; your username otherwise."
          autoComplete="nickname"
          value={displayName}
          onChange={setDisplayName}
          error={apiError}
          required={false}
        />
        <button className="primary" type="submit" disabled={isLoading}>
          {isLoading ? 'Signing up…' : 'Sign up'}
        </button>
        <p>
          Have an account? <Link to="/login">Log in</Link>
        </p>
      </form>
    </Page>
  );
}
