import type { Id, Profile } from '../../api/types';
import { useAppSelector } from '../../app/hooks';
import type { StoredTweet } from '../entities/entities';
import { shownCounts, type ShownCounts } from '../toggles/counts';
import { shownValue } from '../toggles/toggles';

export interface TweetOnScreen {
  tweet: StoredTweet;
  author: Profile | undefined;
  counts: ShownCounts;
}

/** A tweet as the screen shows it now: the stored tweet with the toggles' wishes applied.
 * Each selector returns a stored value or a boolean, so the component renders again only
 * when one of them changed. */
export function useTweetOnScreen(id: Id): TweetOnScreen | undefined {
  const tweet = useAppSelector((state) => (state.entities.deleted[id] ? undefined : state.entities.tweets[id]));
  const author = useAppSelector((state) => {
    const authorId = state.entities.tweets[id]?.authorId;
    return authorId === undefined ? undefined : state.entities.profiles[authorId];
  });
  const liked = useAppSelector((state) => shownValue(state, 'like', id));
  const reposted = useAppSelector((state) => shownValue(state, 'repost', id));
  if (!tweet) return undefined;
  return { tweet, author, counts: shownCounts(tweet, liked, reposted) };
}
