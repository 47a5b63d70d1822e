import { describe, expect, it } from 'vitest';
import { compareIds, maxId, newestFirst } from './ids';

describe('snowflake ids', () => {
  it('compare as numbers, beyond what a double holds', () => {
    // 2^53 + 1 and 2^53 + 2 are the same double.
    expect(compareIds('9007199254740993', '9007199254740994')).toBe(-1);
    expect(compareIds('99', '100')).toBe(-1);
    expect(compareIds('100', '100')).toBe(0);
    expect(['5', '1000', '70'].sort(newestFirst)).toEqual(['1000', '70', '5']);
  });

  it('find the newest', () => {
    expect(maxId(['7', '1900000000000000001', '1900000000000000000'])).toBe('1900000000000000001');
    expect(maxId([])).toBeNull();
  });
});
