// The 280 counter, counted as the server counts (twitter-text's v3 weighting: most scripts
// weigh 1, CJK and emoji 2, any URL 23), so the client never lets through a post the server
// refuses, nor refuses one it would take.

import twitterText from 'twitter-text';

export const MAX_WEIGHT = 280;
/** From here on the counter is announced to screen readers. */
export const NEAR = 260;

export interface Count {
  weightedLength: number;
  remaining: number;
  valid: boolean;
  near: boolean;
}

export function count(text: string): Count {
  const parsed = twitterText.parseTweet(text);
  return {
    weightedLength: parsed.weightedLength,
    remaining: MAX_WEIGHT - parsed.weightedLength,
    valid: parsed.valid,
    near: parsed.weightedLength >= NEAR,
  };
}
