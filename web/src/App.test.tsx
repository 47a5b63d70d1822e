import { render, screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { Provider } from 'react-redux';
import { MemoryRouter } from 'react-router';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { makeStore } from './app/store';
import { edge, profile, signIn, useEdge } from './test/edge';

useEdge();

describe('the main navigation', () => {
  it('keeps every link in its place while the reader’s profile loads', async () => {
    signIn();
    let answer: () => void = () => {};
    const profileAsked = new Promise<void>((resolve) => {
      answer = resolve;
    });
    edge.use(
      http.get('/v1/profile', async () => {
        await profileAsked;
        return HttpResponse.json({ profile: profile('2', 'reader') });
      }),
      http.get('/v1/notifications/marker', () => HttpResponse.json({ lastReadId: '0', unreadCount: '0' })),
    );
    render(
      <Provider store={makeStore()}>
        <MemoryRouter initialEntries={['/nowhere']}>
          <App />
        </MemoryRouter>
      </Provider>,
    );
    const nav = screen.getByRole('navigation', { name: 'Main' });
    const slotOf = (name: string) =>
      Array.from(nav.querySelectorAll('li')).findIndex((item) => item.textContent?.trim() === name);
    // A pointer aimed at Settings must not land on Profile when Profile appears above it.
    const settingsBefore = slotOf('Settings');
    expect(within(nav).queryByRole('link', { name: 'Profile' })).toBeNull();
    answer();
    expect((await within(nav).findByRole('link', { name: 'Profile' })).getAttribute('href')).toBe('/u/reader');
    expect(slotOf('Settings')).toBe(settingsBefore);
    expect(slotOf('Profile')).toBe(settingsBefore - 1);
  });
});
