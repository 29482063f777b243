import type { RedisClient } from '../lib/redis.js';
import { ScriptReplyError } from './errors.js';
import { KEYS } from './keys.js';
import { decodeNotes, type Entry, encodeBatch, type Op, packFields, type RolloutNote } from './ops.js';
import { loadScript } from './scripts.js';

// Applying events to Redis. A batch is split by workload (every key of a workload shares one hash
// tag, so one Redis Cluster slot: keys.ts). On a Redis Cluster each workload's share is one call
// of lua/apply.lua; on a single Redis the whole batch is one call, sent in one pipeline with the
// workload-set SADDs, so a batch costs one round trip. The script records each event's id and
// applies its writes in one atomic step. Dead letters go to a global list with plain commands.
// lua/sweep.lua closes quiet rollouts, one workload at a time.

export interface BatchResult {
  /** Per entry: true when applied now, false when its id had been applied before. */
  readonly applied: readonly boolean[];
  /** Rollout changes the batch made. */
  readonly notes: readonly RolloutNote[];
}

export interface SweepResult {
  readonly closed: readonly string[];
  readonly nextDeadlineMs: number | null;
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
  /**
   * Closes rollouts quiet for longer than `quietMs` (ms) at `nowMs` (ms since the epoch); returns
   * their ids, and when the earliest rollout still open closes if no activity comes (ms since the
   * epoch, null when none is open).
   */
  sweep(nowMs: number, quietMs: number): Promise<SweepResult>;
}

type ScriptRedis = RedisClient & {
  drainwatchApply(numKeys: string, ...keysAndArgs: (string | Buffer)[]): Promise<unknown>;
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

interface Group {
  /** The workload key, or null for the dead letters. */
  readonly workload: string | null;
  readonly at: number[];
  readonly entries: Entry[];
}

/** One script call (or the dead letters): its groups, and its outcome once it succeeded. */
interface Part {
  readonly groups: readonly Group[];
  done?: { applied: boolean[]; notes: RolloutNote[] };
}

function group(entries: readonly Entry[]): Group[] {
  const groups = new Map<string | null, Group>();
  entries.forEach((e, i) => {
    let g = groups.get(e.workload);
    if (!g) {
      g = { workload: e.workload, at: [], entries: [] };
      groups.set(e.workload, g);
    }
    g.at.push(i);
    g.entries.push(e);
  });
  return [...groups.values()];
}

/**
 * The calls of a batch: one per workload on a Redis Cluster (one slot per call), one for every
 * workload on a single Redis. Dead letters last: pushed only once everything else is applied.
 */
function split(entries: readonly Entry[], cluster: boolean): { live: Part[]; dead: Part | undefined } {
  const groups = group(entries);
  const workloads = groups.filter((g) => g.workload !== null);
  const letters = groups.find((g) => g.workload === null);
  const live = cluster ? workloads.map((g) => ({ groups: [g] })) : [{ groups: workloads }];
  return { live: live.filter((p) => p.groups.length > 0), dead: letters ? { groups: [letters] } : undefined };
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
  const cluster = redis.isCluster;

  /**
   * The script's arguments for a part: its keys, the retention, then every other field packed into
   * one Buffer (packFields; not one JSON document: no escaping, no cjson).
   */
  function scriptArgs(part: Part): [string, ...(string | Buffer)[]] {
    const { keys, args } = encodeBatch(part.groups.map((g) => ({ wk: g.workload!, entries: g.entries })));
    return [String(keys.length), ...keys, ttl, packFields(args)];
  }

  function readReply(part: Part, reply: unknown): NonNullable<Part['done']> {
    const count = part.groups.reduce((n, g) => n + g.entries.length, 0);
    if (!Array.isArray(reply) || !isFlags(reply[0]) || reply[0].length !== count) {
      throw new ScriptReplyError('apply', `unreadable reply ${JSON.stringify(reply)}`);
    }
    return { applied: reply[0].map((x) => x === 1), notes: decodeNotes(reply[1]) };
  }

  /** The SADDs naming the workloads in the sets the readers walk (see registerWorkloads). */
  function registrations(live: readonly Part[]): [string, string[]][] {
    const groups = live.flatMap((p) => p.groups);
    const any = groups.map((g) => g.workload!);
    const indexing = groups.filter((g) => g.entries.some((e) => e.ops.some(indexes))).map((g) => g.workload!);
    const adds: [string, string[]][] = [
      [KEYS.anyWorkloads, any],
      [KEYS.workloads, indexing],
    ];
    return adds.filter(([, members]) => members.length > 0);
  }

  /**
   * Adds the workloads to the sets the readers walk, before their scripts run: a workload named
   * with no state yet is harmless, state that no set names would never be found.
   */
  async function registerWorkloads(live: readonly Part[]): Promise<void> {
    await Promise.all(registrations(live).map(([k, members]) => redis.sadd(k, ...members)));
  }

  /** Redis Cluster: the SADDs, then one script call per workload (each in its own slot), at once. */
  async function runCluster(live: readonly Part[]): Promise<void> {
    await registerWorkloads(live);
    const settled = await Promise.allSettled(
      live.map(async (p) => {
        p.done = readReply(p, await r.drainwatchApply(...scriptArgs(p)));
      }),
    );
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** A single Redis: the SADDs and the one script call in one pipeline (run in that order). */
  async function runSingle(part: Part): Promise<void> {
    const pipeline = redis.pipeline();
    const adds = registrations([part]);
    for (const [k, members] of adds) pipeline.sadd(k, ...members);
    (pipeline as unknown as ScriptRedis).drainwatchApply(...scriptArgs(part));
    const replies = await pipeline.exec();
    if (!replies) throw new ScriptReplyError('apply', 'the pipeline was discarded');
    const failed = replies.find(([err]) => err);
    // A failed SADD fails the part even if its script ran: run() again re-adds and finds the
    // script's events applied (idempotent), so the state is never left unnamed by the sets.
    if (failed) throw failed[0];
    part.done = readReply(part, replies[adds.length]![1]);
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
    const { live, dead } = split(entries, cluster);
    return {
      async run() {
        const pending = live.filter((p) => !p.done);
        if (pending.length > 0) {
          if (cluster) await runCluster(pending);
          else await runSingle(pending[0]!);
        }
        if (dead && !dead.done) dead.done = await pushDeadLetters(dead.groups[0]!.entries);
        const applied = new Array<boolean>(entries.length).fill(false);
        const notes: RolloutNote[] = [];
        for (const p of dead ? [...live, dead] : live) {
          let j = 0;
          for (const g of p.groups) for (const i of g.at) applied[i] = p.done!.applied[j++]!;
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
      const closed: string[] = [];
      let nextDeadlineMs: number | null = null;
      for (const reply of replies) {
        if (!isStrings(reply) || (reply.length !== 0 && reply.length !== 2))
          throw new ScriptReplyError('sweep', `unreadable reply ${JSON.stringify(reply)}`);
        if (reply[0] === 'closed') closed.push(reply[1]!);
        else if (reply[0] === 'open') {
          // Closed once quiet for longer than quietMs: the first millisecond past it.
          const deadline = Number(reply[1]) + quietMs + 1;
          if (nextDeadlineMs === null || deadline < nextDeadlineMs) nextDeadlineMs = deadline;
        }
      }
      return { closed, nextDeadlineMs };
    },
  };
}
