import { describe, expect, it } from 'vitest';
import { differences } from '../helpers/differences.js';

// The report comparisons of the HA tests print this list when they fail: it must name every
// difference it is given, and none where there is none.

describe('differences (test helper)', () => {
  it('names nothing for equal values, deep', () => {
    const v = { a: 1, b: [{ c: 'x' }, null], d: { e: true } };
    expect(differences(v, structuredClone(v))).toEqual([]);
  });

  it('names each differing path with both values, missing keys and array lengths included', () => {
    const a = { n: 1, list: [1, 2], deep: { s: 'x' }, only: 1 };
    const b = { n: 2, list: [1, 2, 3], deep: { s: 'y' } };
    expect(differences(a, b)).toEqual([
      'n: 1 ≠ 2',
      'list.2: undefined ≠ 3',
      'deep.s: "x" ≠ "y"',
      'only: 1 ≠ undefined',
    ]);
  });

  it('stops at the limit and tells an array from an object', () => {
    expect(differences({ a: 1, b: 1, c: 1 }, { a: 2, b: 2, c: 2 }, 2)).toHaveLength(2);
    expect(differences([], {})).toEqual(['(root): [] ≠ {}']);
  });
});
