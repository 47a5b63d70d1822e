// Ids are snowflakes carried as strings (int64 in JSON): larger is newer. Numbers would lose
// precision past 2^53, so they are compared as decimal strings: longer is larger, and equal
// lengths compare as text.

import type { Id } from './types';

export function compareIds(a: Id, b: Id): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Newest first. */
export const newestFirst = (a: Id, b: Id): number => compareIds(b, a);

export function maxId(ids: Iterable<Id>): Id | null {
  let max: Id | null = null;
  for (const id of ids) if (max === null || compareIds(id, max) > 0) max = id;
  return max;
}
