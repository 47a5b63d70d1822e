import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { Provider } from 'react-redux';
import { MemoryRouter } from 'react-router';
import { describe, expect, it } from 'vitest';
import { api } from '../../api/api';
import { makeStore } from '../../app/store';
import { edge, profile, signIn, tweet, useEdge } from '../../test/edge';
import { TweetCard } from './TweetCard';

useEdge();

describe('a tweet card', () => {
  it('is filled from any response and likes through a toggle button', async () => {
    signIn();
    const likes: string[] = [];
    edge.use(
      http.get('/v1/profile', () => HttpResponse.json({ profile: profile('2', 'reader') })),
      http.get('/v1/timeline/home', () =>
        HttpResponse.json({
          items: [
            {
              itemId: '8',
              card: {
                tweet: tweet('8', { text: 'hi @bob see #rust https://example.com', likeCount: '1', quoteOfTweetId: '5' }),
                author: profile('1', 'alice'),
                quoted: { tweet: tweet('5', { text: 'the quoted one', authorId: '3' }), author: profile('3', 'carol') },
              },
            },
          ],
          nextMaxId: '0',
        }),
      ),
      http.post('/v1/tweets/8/like', () => {
        likes.push('POST');
        return HttpResponse.json({ tweet: tweet('8', { likeCount: '2', viewer: { liked: true, reposted: false } }) });
      }),
    );
    const store = makeStore();
    await store.dispatch(api.endpoints.homeTimeline.initiate()).unwrap();
    expect(Object.keys(store.getState().entities.tweets).sort()).toEqual(['5', '8']);
    expect(store.getState().entities.profiles['3']?.username).toBe('carol');

    render(
      <Provider store={store}>
        <MemoryRouter>
          <TweetCard id="8" />
        </MemoryRouter>
      </Provider>,
    );
    // Mentions, hashtags and links are links; the quoted post is there with its author.
    expect(screen.getByRole('link', { name: '@bob' }).getAttribute('href')).toBe('/u/bob');
    expect(screen.getByRole('link', { name: '#rust' }).getAttribute('href')).toBe('/hashtag/rust');
    expect(screen.getByRole('link', { name: 'https://example.com' }).getAttribute('rel')).toContain('noopener');
    expect(screen.getByText('the quoted one')).toBeTruthy();
    expect(screen.getByText('carol', { selector: '.who' })).toBeTruthy();

    const like = await screen.findByRole('button', { name: /^Like/ });
    expect(like.getAttribute('aria-pressed')).toBe('false');
    fireEvent.click(like);
    // At once, before the server answers.
    expect(screen.getByRole('button', { name: /^Liked 2/ }).getAttribute('aria-pressed')).toBe('true');
    await waitFor(() => expect(likes).toEqual(['POST']));
    await waitFor(() => expect(store.getState().toggles).toEqual({}));
    expect(screen.getByRole('button', { name: /^Liked 2/ })).toBeTruthy();
  });
});
