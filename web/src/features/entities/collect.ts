// Every response fills the entity store: whatever its shape, the tweets and profiles in it
// are found by their fields, so a new endpoint needs no code here to keep them current.

import type { Profile, Relationship, Tweet } from '../../api/types';

export interface Collected {
  tweets: Tweet[];
  profiles: Profile[];
  relationships: Relationship[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

const isTweet = (value: Record<string, unknown>): boolean =>
  typeof value.tweetId === 'string' && typeof value.authorId === 'string' && typeof value.text === 'string';

const isProfile = (value: Record<string, unknown>): boolean =>
  typeof value.userId === 'string' && typeof value.username === 'string';

const isRelationship = (value: Record<string, unknown>): boolean =>
  typeof value.userId === 'string' && typeof value.following === 'boolean';

/** The tweets, profiles and relationships anywhere in `payload`, outermost first. */
export function collect(payload: unknown): Collected {
  const found: Collected = { tweets: [], profiles: [], relationships: [] };
  const visit = (value: unknown, depth: number): void => {
    // Responses are a few levels deep (page → item → card → quoted → author).
    if (depth > 8) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    if (!isObject(value)) return;
    if (isTweet(value)) found.tweets.push(value as unknown as Tweet);
    else if (isProfile(value)) found.profiles.push(value as unknown as Profile);
    else if (isRelationship(value)) found.relationships.push(value as unknown as Relationship);
    for (const child of Object.values(value)) visit(child, depth + 1);
  };
  visit(payload, 0);
  return found;
}
