import type { RedisClient } from '../lib/redis.js';
import { ScriptReplyError } from './errors.js';
import { KEYS } from './keys.js';
import { decodeNotes, type Entry, encodeBatch, type Op, type RolloutNote } from './ops.js';
import { loadScript } from './scripts.js';

// Applying events to Redis. A batch is split by workload (every key of a workload shares one hash
// tag, so one Redis Cluster slot: keys.ts); each workload's share is one call of lua/apply.lua,
// which records each event's id and applies its writes in one atomic step. Dead letters go to a
// global list with plain commands. lua/sweep.lua closes quiet rollouts, one workload at a time.

export interface BatchResult {
  /** Per entry: true when applied now, false when its id had been applied before. */
  readonly applied: readonly boolean[];
  /** Rollout changes the batch made. */
  readonly notes: readonly RolloutNote[];
}

/** One batch's application; run() again after a failure applies only the parts that failed. */
export interface BatchApplication {
  /** Rejects with the first Redis error; what succeeded is kept, so a retry never re-applies it. */
  run(): Promise<BatchResult>;
}

export interface Applier {
  apply(entries: readonly Entry[]): Promise<BatchResult>;
  /** A batch to run (and re-run until it succeeds): per-workload parts that succeeded are kept. */
  batch(entries: readonly Entry[]): BatchApplication;
  /** Closes rollouts quiet for longer than `quietMs` at `nowMs`; returns their ids. */
  sweep(nowMs: number, quietMs: number): Promise<string[]>;
}

type ScriptRedis = RedisClient & {
  drainwatchApply(numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  drainwatchSweep(openKey: string, rolloutsKey: string, now: string, quiet: string): Promise<unknown>;
};

function isFlags(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => v === 0 || v === 1);
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((v) => typeof v === 'string');
}

/** Ops that may index a rollout: their workload must be in the workload set the sweep walks. */
function indexes(op: Op): boolean {
  return op.type === 'rollout-start' || op.type === 'rollout-touch';
}

interface Part {
  /** The workload key, or null for the dead letters. */
  readonly workload: string | null;
  readonly at: number[];
  readonly entries: Entry[];
  done?: { applied: boolean[]; notes: RolloutNote[] };
}

function split(entries: readonly Entry[]): Part[] {
  const parts = new Map<string | null, Part>();
  entries.forEach((e, i) => {
    let p = parts.get(e.workload);
    if (!p) {
      p = { workload: e.workload, at: [], entries: [] };
      parts.set(e.workload, p);
    }
    p.at.push(i);
    p.entries.push(e);
  });
  // Dead letters last: they are pushed only once everything else of the batch is applied.
  return [...parts.values()].sort((a, b) => Number(a.workload === null) - Number(b.workload === null));
}

/**
 * Loads the scripts (defineCommand: EVALSHA, falling back to EVAL after a NOSCRIPT from a
 * restarted Redis) and applies batches with them. Works on a single Redis and on a Redis Cluster
 * alike. Throws the fs error if the scripts are missing.
 */
export function createApplier(redis: RedisClient, options: { retentionSeconds: number }): Applier {
  const r = redis as ScriptRedis;
  if (typeof r.drainwatchApply !== 'function') {
    // numberOfKeys omitted: the key count is the first argument (batches name any number of keys).
    redis.defineCommand('drainwatchApply', { lua: loadScript('apply') });
    redis.defineCommand('drainwatchSweep', { numberOfKeys: 2, lua: loadScript('sweep') });
  }
  const ttl = String(options.retentionSeconds);

  async function applyWorkload(wk: string, entries: readonly Entry[]) {
    // Flat arguments, not one JSON document: no escaping of the JSON members inside, no cjson.
    const { keys, args } = encodeBatch(wk, entries);
    const reply = await r.drainwatchApply(keys.length, ...keys, ttl, ...args);
    if (!Array.isArray(reply) || !isFlags(reply[0]) || reply[0].length !== entries.length) {
      throw new ScriptReplyError('apply', `unreadable reply ${JSON.stringify(reply)}`);
    }
    return { applied: reply[0].map((x) => x === 1), notes: decodeNotes(reply[1]) };
  }

  /**
   * Adds the workloads to the sets the readers walk, before their scripts run: a workload named
   * with no state yet is harmless, state that no set names would never be found.
   */
  async function registerWorkloads(live: readonly Part[]): Promise<void> {
    const any = live.map((p) => p.workload!);
    const indexing = live.filter((p) => p.entries.some((e) => e.ops.some(indexes))).map((p) => p.workload!);
    await Promise.all([
      any.length > 0 ? redis.sadd(KEYS.anyWorkloads, ...any) : undefined,
      indexing.length > 0 ? redis.sadd(KEYS.workloads, ...indexing) : undefined,
    ]);
  }

  async function pushDeadLetters(entries: readonly Entry[]) {
    const letters = entries.flatMap((e) => e.ops).filter((op) => op.type === 'dead-letter');
    if (letters.length > 0) {
      // One transaction on one key: pushed and trimmed together (newest first, as one LPUSH each).
      await redis
        .multi()
        .lpush(KEYS.deadLetters, ...letters.map((l) => l.value))
        .ltrim(KEYS.deadLetters, 0, Math.min(...letters.map((l) => l.max)) - 1)
        .exec();
    }
    return { applied: entries.map(() => true), notes: [] };
  }

  function batch(entries: readonly Entry[]): BatchApplication {
    const parts = split(entries);
    return {
      async run() {
        const live = parts.filter((p) => p.workload !== null && !p.done);
        await registerWorkloads(live);
        const settled = await Promise.allSettled(
          live.map(async (p) => {
            p.done = await applyWorkload(p.workload!, p.entries);
          }),
        );
        const failed = settled.find((s) => s.status === 'rejected');
        if (failed) throw failed.reason;
        const dead = parts.find((p) => p.workload === null);
        if (dead && !dead.done) dead.done = await pushDeadLetters(dead.entries);
        const applied = new Array<boolean>(entries.length).fill(false);
        const notes: RolloutNote[] = [];
        for (const p of parts) {
          p.at.forEach((i, j) => {
            applied[i] = p.done!.applied[j]!;
          });
          notes.push(...p.done!.notes);
        }
        return { applied, notes };
      },
    };
  }

  return {
    batch,
    apply(entries) {
      return batch(entries).run();
    },
    async sweep(nowMs, quietMs) {
      const workloads = await redis.smembers(KEYS.workloads);
      const replies = await Promise.all(
        workloads.map((wk) =>
          r.drainwatchSweep(KEYS.open(wk), KEYS.rollouts(wk), String(nowMs), String(quietMs)),
        ),
      );
      return replies.flatMap((reply) => {
        if (!isStrings(reply))
          throw new ScriptReplyError('sweep', `unreadable reply ${JSON.stringify(reply)}`);
        return reply;
      });
    },
  };
}
