import { describe, expect, it } from 'vitest';
import { ScriptReplyError } from '../../collector/errors.js';
import {
  encodeKeyPart,
  KEYS,
  parseTerminationMember,
  parseWorkloadKey,
  terminationMember,
  workloadKey,
} from '../../collector/keys.js';
import { decodeNotes, encodeBatch } from '../../collector/ops.js';

describe('collector keys and ops', () => {
  it('names from users never reach a key raw; workload keys and termination members parse back', () => {
    expect(KEYS.rollout('a/b|c d')).toBe('ro:a%2Fb%7Cc%20d');
    expect(encodeKeyPart('\ud800')).toBe('%EF%BF%BD');
    const wk = workloadKey('ns:1/x', 'web|1');
    expect(wk).toBe('ns%3A1%2Fx/web%7C1');
    expect(parseWorkloadKey(wk)).toEqual({ namespace: 'ns:1/x', workload: 'web|1' });
    const member = terminationMember({ pod: 'pod|with|bars', instance: 'i-1' });
    expect(parseTerminationMember(member)).toEqual({ pod: 'pod|with|bars', instance: 'i-1' });
  });

  it('encodeBatch names each key once, after the three every batch passes, and refers to it by index', () => {
    const target = { namespace: 'shop', workload: 'web' };
    const { keys, args } = encodeBatch([
      {
        id: 'e1',
        ops: [
          { type: 'zadd', key: 'k', score: 5, member: 'm' },
          { type: 'rollout-activity', target, atMs: 7 },
        ],
      },
      { id: null, ops: [{ type: 'zadd', key: 'k', score: 6, member: 'n' }] },
      {
        id: 'e2',
        ops: [
          { type: 'rollout-finish', target, rolloutId: 'r 1', atMs: 9, outcome: 'complete', podsReplaced: 2 },
        ],
      },
    ]);
    expect(keys).toEqual([
      'open',
      'rollouts',
      'workloads',
      'seen:e1',
      'k',
      'seen:e2',
      'w:shop/web:ro',
      'ro:r%201',
    ]);
    expect(args).toEqual([
      ...['4', '2'],
      ...['4', 'zadd', '5', '5', 'm'],
      ...['3', 'rollout-activity', 'shop/web', '7'],
      ...['0', '1'],
      ...['4', 'zadd', '5', '6', 'n'],
      ...['6', '1'],
      ...['10', 'rollout-finish', 'shop/web', 'shop', 'web', '7', '8', 'r 1', '9', 'complete', '2'],
    ]);
  });

  it('decodeNotes reads { kind, id } pairs and refuses anything else', () => {
    expect(
      decodeNotes([
        ['opened', 'a'],
        ['closed', 'b|c'],
      ]),
    ).toEqual([
      { kind: 'opened', rolloutId: 'a' },
      { kind: 'closed', rolloutId: 'b|c' },
    ]);
    expect(decodeNotes([])).toEqual([]);
    expect(() => decodeNotes([['reopened', 'a']])).toThrow(ScriptReplyError);
    expect(() => decodeNotes('closed|a')).toThrow(ScriptReplyError);
  });
});
