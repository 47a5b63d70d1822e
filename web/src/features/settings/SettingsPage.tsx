import { useState, type FormEvent } from 'react';
import { useChangePasswordMutation, useLogOutMutation, useOwnProfileQuery, useUpdateProfileMutation } from '../../api/api';
import type { ApiError } from '../../api/errors';
import type { Profile } from '../../api/types';
import { useAppDispatch } from '../../app/hooks';
import { endSession, store } from '../../app/store';
import { Page } from '../../Page';
import { ErrorSummary, Field } from '../auth/Field';
import { said } from '../live/live';
import { setShortcutsOn, shortcutsOn } from '../shortcuts/hotkeys';

function ProfileForm({ me }: { me: Profile }) {
  const [displayName, setDisplayName] = useState(me.displayName);
  const [bio, setBio] = useState(me.bio);
  const [update, { isLoading, error, isSuccess }] = useUpdateProfileMutation();
  const dispatch = useAppDispatch();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await update({ displayName, bio });
    if ('data' in result) dispatch(said('Profile saved'));
  };
  const apiError = error as ApiError | undefined;
  return (
    <form className="stacked" onSubmit={submit} noValidate aria-labelledby="settings-profile">
      <h2 id="settings-profile">Profile</h2>
      <ErrorSummary error={apiError} />
      <Field name="display_name" label="Display name" autoComplete="nickname" value={displayName} onChange={setDisplayName} error={apiError} />
      <Field name="bio" label="Bio" hint="Up to 160 characters." autoComplete="off" value={bio} onChange={setBio} error={apiError} required={false} />
      <button className="primary" type="submit" disabled={isLoading}>
        {isLoading ? 'Saving…' : 'Save profile'}
      </button>
      {isSuccess ? <p>Saved.</p> : null}
    </form>
  );
}

function PasswordForm() {
  const [currentPassword, setCurrent] = useState('');
  const [newPassword, setNew] = useState('');
  const [change, { isLoading, error, isSuccess }] = useChangePasswordMutation();
  const dispatch = useAppDispatch();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await change({ currentPassword, newPassword });
    if ('data' in result) {
      setCurrent('');
      setNew('');
      dispatch(said('Password changed; other sessions are signed out'));
    }
  };
  const apiError = error as ApiError | undefined;
  return (
    <form className="stacked" onSubmit={submit} noValidate aria-labelledby="settings-password">
      <h2 id="settings-password">Password</h2>
      <ErrorSummary error={apiError} />
      <Field name="current_password" label="Current password" type="password" autoComplete="current-password" value={currentPassword} onChange={setCurrent} error={apiError} />
      <Field name="new_password" label="New password" hint="At least 8 characters." type="password" autoComplete="new-password" value={newPassword} onChange={setNew} error={apiError} />
      <button className="primary" type="submit" disabled={isLoading}>
        {isLoading ? 'Changing…' : 'Change password'}
      </button>
      {isSuccess ? <p>Changed. Every other session is signed out.</p> : null}
    </form>
  );
}

function ShortcutsSwitch() {
  const [on, setOn] = useState(shortcutsOn());
  return (
    <section aria-labelledby="settings-shortcuts">
      <h2 id="settings-shortcuts">Keyboard shortcuts</h2>
      <p>Single keys such as j, k and l act on posts; press ? to list them.</p>
      <button
        type="button"
        aria-pressed={on}
        onClick={() => {
          setShortcutsOn(!on);
          setOn(!on);
        }}
      >
        Keyboard shortcuts {on ? 'on' : 'off'}
      </button>
    </section>
  );
}

export function SettingsPage() {
  const { data: me } = useOwnProfileQuery();
  const [logOut, { isLoading }] = useLogOutMutation();
  const signOut = async () => {
    await logOut();
    endSession(store, null);
  };
  return (
    <Page title="Settings">
      {me ? <ProfileForm me={me} /> : null}
      <PasswordForm />
      <ShortcutsSwitch />
      <section aria-labelledby="settings-session">
        <h2 id="settings-session">Session</h2>
        <button type="button" disabled={isLoading} onClick={() => void signOut()}>
          Sign out
        </button>
      </section>
    </Page>
  );
}
