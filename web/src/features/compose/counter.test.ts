import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { count } from './counter';

// The repository's copy of the twitter-text conformance vectors, the same the Rust crate
// that svc-tweet counts with passes.
const vectors = parse(
  // Tests run from web/ (npm test).
  readFileSync(resolve(process.cwd(), '../testdata/twitter-text/validate.yml'), 'utf8'),
) as {
  tests: Record<string, Array<{ description: string; text: string; expected: { weightedLength: number; valid: boolean } }>>;
};

describe('the 280 counter', () => {
  const cases = vectors.tests.WeightedTweetsWithDiscountedEmojiCounterTest ?? [];

  it('has the v3 vectors to check against', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases.map((c) => [c.description, c] as const))('%s', (_, c) => {
    const counted = count(c.text);
    expect(counted.weightedLength).toBe(c.expected.weightedLength);
    expect(counted.valid).toBe(c.expected.valid);
  });

  it('is near the limit from 260 and over it past 280', () => {
    expect(count('a'.repeat(259)).near).toBe(false);
    expect(count('a'.repeat(260)).near).toBe(true);
    expect(count('a'.repeat(280)).remaining).toBe(0);
    expect(count('a'.repeat(281)).valid).toBe(false);
  });
});
