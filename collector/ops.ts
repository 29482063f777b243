import { ScriptReplyError } from './errors.js';
import { KEYS, SEQ_FIELDS, workloadKey } from './keys.js';

// The writes the apply script makes, as typed objects, and their wire format: encodeBatch writes
// what collector/lua/apply.lua reads, and decodeNotes reads what it returns. Nothing else knows
// either format.

/** The workload a rollout op is about. */
export interface WorkloadRef {
  readonly namespace: string;
  readonly workload: string;
}

/** One write. Keys are relative to the prefix (ioredis adds it to KEYS). */
export type Op =
  | { readonly type: 'zadd'; readonly key: string; readonly score: number; readonly member: string }
  /** ZADD LT: keeps the lowest score seen. */
  | { readonly type: 'zadd-lt'; readonly key: string; readonly score: number; readonly member: string }
  | { readonly type: 'hset'; readonly key: string; readonly field: string; readonly value: string }
  /** Counts an event of `instance` and keeps its highest seq, for gap detection. */
  | { readonly type: 'seq'; readonly key: string; readonly instance: string; readonly seq: number }
  /** Marks a pod terminating (unless it already exited). */
  | {
      readonly type: 'termination-start';
      readonly terminating: string;
      readonly exited: string;
      readonly atMs: number;
      readonly member: string;
    }
  | {
      readonly type: 'termination-end';
      readonly terminating: string;
      readonly exited: string;
      readonly member: string;
    }
  | { readonly type: 'dead-letter'; readonly key: string; readonly value: string; readonly max: number }
  | {
      readonly type: 'rollout-start';
      readonly target: WorkloadRef;
      readonly rolloutId: string;
      readonly atMs: number;
      readonly trigger: string;
      /** Optional fields of rollout.started (replicas, label, ...), as stored. */
      readonly fields: Readonly<Record<string, string>>;
    }
  | {
      readonly type: 'rollout-finish';
      readonly target: WorkloadRef;
      readonly rolloutId: string;
      readonly atMs: number;
      readonly outcome: string;
      readonly podsReplaced: number;
    }
  /** A termination: joins the open rollout, or opens one with `implicitId`. */
  | {
      readonly type: 'rollout-touch';
      readonly target: WorkloadRef;
      readonly atMs: number;
      readonly implicitId: string;
      readonly quietMs: number;
    }
  /** Activity that keeps an open rollout from timing out, but never opens one. */
  | { readonly type: 'rollout-activity'; readonly target: WorkloadRef; readonly atMs: number };

/** Writes of one event; `id` null for writes that need no idempotency record (dead letters). */
export interface Entry {
  readonly id: string | null;
  readonly ops: readonly Op[];
}

/** A rollout change the apply or sweep script made. */
export interface RolloutNote {
  readonly kind: 'opened' | 'closed' | 'absorbed';
  readonly rolloutId: string;
}

export interface EncodedBatch {
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** The keys every apply call passes first, in the order apply.lua names them. */
const FIXED_KEYS = [KEYS.open, KEYS.rollouts, KEYS.workloads] as const;

/** Builds KEYS and ARGV of apply.lua (after its first two ARGV, which the applier adds). */
export function encodeBatch(entries: readonly Entry[]): EncodedBatch {
  const keys: string[] = [...FIXED_KEYS];
  const indexes = new Map<string, number>(keys.map((k, i) => [k, i + 1]));
  const key = (k: string): string => {
    let i = indexes.get(k);
    if (i === undefined) {
      keys.push(k);
      i = keys.length;
      indexes.set(k, i);
    }
    return String(i);
  };
  const args: string[] = [];
  for (const e of entries) {
    args.push(e.id === null ? '0' : key(KEYS.seen(e.id)), String(e.ops.length));
    for (const op of e.ops) {
      const wire = opArgs(op, key);
      args.push(String(wire.length), ...wire);
    }
  }
  return { keys, args };
}

function workloadArgs(w: WorkloadRef, key: (k: string) => string): string[] {
  const wk = workloadKey(w.namespace, w.workload);
  return [wk, w.namespace, w.workload, key(KEYS.workloadRollouts(wk))];
}

/** One op on the wire: its name, then its args in the order apply.lua reads them. */
function opArgs(op: Op, key: (k: string) => string): string[] {
  switch (op.type) {
    case 'zadd':
    case 'zadd-lt':
      return [op.type, key(op.key), String(op.score), op.member];
    case 'hset':
      return [op.type, key(op.key), op.field, op.value];
    case 'seq':
      return [
        op.type,
        key(op.key),
        SEQ_FIELDS.count(op.instance),
        SEQ_FIELDS.max(op.instance),
        String(op.seq),
      ];
    case 'termination-start':
      return [op.type, key(op.terminating), key(op.exited), String(op.atMs), op.member];
    case 'termination-end':
      return [op.type, key(op.terminating), key(op.exited), op.member];
    case 'dead-letter':
      return [op.type, key(op.key), op.value, String(op.max)];
    case 'rollout-start': {
      const extra = Object.entries(op.fields).flat();
      const { rolloutId: id } = op;
      return [
        op.type,
        ...workloadArgs(op.target, key),
        key(KEYS.rollout(id)),
        id,
        String(op.atMs),
        op.trigger,
        ...extra,
      ];
    }
    case 'rollout-finish': {
      const { rolloutId: id } = op;
      return [
        op.type,
        ...workloadArgs(op.target, key),
        key(KEYS.rollout(id)),
        id,
        String(op.atMs),
        op.outcome,
        String(op.podsReplaced),
      ];
    }
    case 'rollout-touch':
      return [
        op.type,
        ...workloadArgs(op.target, key),
        key(KEYS.rollout(op.implicitId)),
        op.implicitId,
        String(op.atMs),
        String(op.quietMs),
      ];
    case 'rollout-activity':
      return [op.type, workloadKey(op.target.namespace, op.target.workload), String(op.atMs)];
  }
}

const NOTE_KINDS: ReadonlySet<string> = new Set<RolloutNote['kind']>(['opened', 'closed', 'absorbed']);

function isNoteKind(s: unknown): s is RolloutNote['kind'] {
  return typeof s === 'string' && NOTE_KINDS.has(s);
}

/**
 * Reads the notes apply.lua returns (`{ kind, id }` pairs). Throws ScriptReplyError on anything
 * else: the script and this module disagree.
 */
export function decodeNotes(reply: unknown): RolloutNote[] {
  if (!Array.isArray(reply)) throw new ScriptReplyError('apply', 'notes are not a list');
  return reply.map((n: unknown) => {
    if (!Array.isArray(n) || !isNoteKind(n[0]) || typeof n[1] !== 'string') {
      throw new ScriptReplyError('apply', `unreadable note ${JSON.stringify(n)}`);
    }
    return { kind: n[0], rolloutId: n[1] };
  });
}
