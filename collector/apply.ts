import type { Redis } from 'ioredis';
import { ScriptReplyError } from './errors.js';
import { KEYS, ROLLOUT_KEY_PREFIX } from './keys.js';
import { decodeNotes, type Entry, encodeBatch, type RolloutNote } from './ops.js';
import { loadScript } from './scripts.js';

// Applying events to Redis. A batch of events becomes one call of lua/apply.lua, which records
// each event's id and applies its writes in one atomic step; lua/sweep.lua closes quiet rollouts.

export interface BatchResult {
  /** Per entry: true when applied now, false when its id had been applied before. */
  readonly applied: readonly boolean[];
  /** Rollout changes the batch made. */
  readonly notes: readonly RolloutNote[];
}

export interface Applier {
  apply(entries: readonly Entry[]): Promise<BatchResult>;
  /** Closes rollouts quiet for longer than `quietMs` at `nowMs`; returns their ids. */
  sweep(nowMs: number, quietMs: number): Promise<string[]>;
}

type ScriptRedis = Redis & {
  drainwatchApply(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  drainwatchSweep(openKey: string, rolloutPrefix: string, now: string, quiet: string): Promise<unknown>;
};

function isFlags(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => v === 0 || v === 1);
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((v) => typeof v === 'string');
}

/**
 * Loads the scripts (defineCommand: EVALSHA, falling back to EVAL after a NOSCRIPT from a
 * restarted Redis) and applies batches with them. Throws the fs error if the scripts are missing.
 */
export function createApplier(redis: Redis, options: { retentionSeconds: number }): Applier {
  const r = redis as ScriptRedis;
  if (typeof r.drainwatchApply !== 'function') {
    // numberOfKeys omitted: the key count is the first argument (batches name any number of keys).
    redis.defineCommand('drainwatchApply', { lua: loadScript('apply') });
    redis.defineCommand('drainwatchSweep', { numberOfKeys: 1, lua: loadScript('sweep') });
  }
  // The one key the scripts derive themselves (a rollout's, from an id read out of Redis) needs
  // the client's prefix, which ioredis adds to KEYS only.
  const rolloutPrefix = `${redis.options.keyPrefix ?? ''}${ROLLOUT_KEY_PREFIX}`;
  const ttl = String(options.retentionSeconds);
  return {
    async apply(entries) {
      if (entries.length === 0) return { applied: [], notes: [] };
      // Flat arguments, not one JSON document: no escaping of the JSON members inside, no cjson.
      const { keys, args } = encodeBatch(entries);
      const reply = await r.drainwatchApply(keys.length, ...keys, rolloutPrefix, ttl, ...args);
      if (!Array.isArray(reply) || !isFlags(reply[0])) {
        throw new ScriptReplyError('apply', `unreadable reply ${JSON.stringify(reply)}`);
      }
      return { applied: reply[0].map((x) => x === 1), notes: decodeNotes(reply[1]) };
    },
    async sweep(nowMs, quietMs) {
      const reply = await r.drainwatchSweep(KEYS.open, rolloutPrefix, String(nowMs), String(quietMs));
      if (!isStrings(reply)) throw new ScriptReplyError('sweep', `unreadable reply ${JSON.stringify(reply)}`);
      return reply;
    },
  };
}
