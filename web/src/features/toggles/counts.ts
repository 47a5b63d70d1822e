// The counts a card shows while a like or repost is on its way: the server's count moved by
// the difference between what the screen shows and what the server last said.

import type { StoredTweet } from '../entities/entities';

export interface ShownCounts {
  liked: boolean;
  reposted: boolean;
  likeCount: number;
  repostCount: number;
}

const moved = (count: string, server: boolean, shown: boolean): number =>
  Math.max(0, Number(count) + (shown === server ? 0 : shown ? 1 : -1));

export function shownCounts(tweet: StoredTweet, liked: boolean, reposted: boolean): ShownCounts {
  return {
    liked,
    reposted,
    likeCount: moved(tweet.likeCount, tweet.viewer?.liked ?? false, liked),
    repostCount: moved(tweet.repostCount, tweet.viewer?.reposted ?? false, reposted),
  };
}
