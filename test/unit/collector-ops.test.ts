import { describe, expect, it } from 'vitest';
import { ScriptReplyError } from '../../collector/errors.js';
import {
  encodeKeyPart,
  KEYS,
  parseTerminationMember,
  parseWorkloadKey,
  ROLLOUT_FIELDS,
  terminationMember,
  workloadKey,
} from '../../collector/keys.js';
import { decodeNotes, encodeBatch } from '../../collector/ops.js';

describe('collector keys and ops', () => {
  it('names from users never reach a key raw; workload keys and termination members parse back', () => {
    expect(KEYS.seen('shop/web', 'a/b|c d')).toBe('w:{shop/web}:seen:a%2Fb%7Cc%20d');
    expect(encodeKeyPart('\ud800')).toBe('%EF%BF%BD');
    const wk = workloadKey('ns:1/x', 'web|1');
    expect(wk).toBe('ns%3A1%2Fx/web%7C1');
    expect(parseWorkloadKey(wk)).toEqual({ namespace: 'ns:1/x', workload: 'web|1' });
    const member = terminationMember({ pod: 'pod|with|bars', instance: 'i-1' });
    expect(parseTerminationMember(member)).toEqual({ pod: 'pod|with|bars', instance: 'i-1' });
  });

  it('encodeBatch names each key once, after the three of the workload every batch passes, and refers to it by index', () => {
    const target = { namespace: 'shop', workload: 'web' };
    const wk = 'shop/web';
    const { keys, args } = encodeBatch(wk, [
      {
        id: 'e1',
        workload: wk,
        ops: [
          { type: 'zadd', key: 'k', score: 5, member: 'm' },
          { type: 'rollout-activity', target, atMs: 7 },
        ],
      },
      {
        id: 'e2',
        workload: wk,
        ops: [
          { type: 'zadd', key: 'k', score: 6, member: 'n' },
          { type: 'rollout-finish', target, rolloutId: 'r 1', atMs: 9, outcome: 'complete', podsReplaced: 2 },
        ],
      },
    ]);
    expect(keys).toEqual([
      'w:{shop/web}:open',
      'w:{shop/web}:rollouts',
      'w:{shop/web}:ro',
      'w:{shop/web}:seen:e1',
      'k',
      'w:{shop/web}:seen:e2',
    ]);
    expect(args).toEqual([
      ...['shop', 'web', String(ROLLOUT_FIELDS.length), ...ROLLOUT_FIELDS],
      ...['4', '2'],
      ...['4', 'zadd', '5', '5', 'm'],
      ...['2', 'rollout-activity', '7'],
      ...['6', '2'],
      ...['4', 'zadd', '5', '6', 'n'],
      ...['5', 'rollout-finish', 'r 1', '9', 'complete', '2'],
    ]);
  });

  it('encodeBatch refuses an entry of another workload and a dead letter: they belong to other slots', () => {
    const zadd = { type: 'zadd', key: 'k', score: 1, member: 'm' } as const;
    expect(() => encodeBatch('a/b', [{ id: 'e', workload: 'a/c', ops: [zadd] }])).toThrow(ScriptReplyError);
    expect(() =>
      encodeBatch('a/b', [
        { id: 'e', workload: 'a/b', ops: [{ type: 'dead-letter', key: 'dead', value: 'x', max: 1 }] },
      ]),
    ).toThrow(ScriptReplyError);
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
