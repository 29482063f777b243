import { ScriptReplyError } from './errors.js';
import { KEYS, parseWorkloadKey, SEQ_FIELDS } from './keys.js';

// The writes the apply script makes, as typed objects, and their wire format: encodeBatch writes
// what collector/lua/apply.lua reads, and decodeNotes reads what it returns. Nothing else knows
// either format.

/** The workload a rollout op is about. */
export interface WorkloadRef {
  readonly namespace: string;
  readonly workload: string;
}

/**
 * One write. Keys are relative to the prefix (ioredis adds it to KEYS); all of an entry's keys are
 * its workload's (keys.ts), so a batch of one workload is one script call in one slot.
 */
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
  /**
   * A termination: joins the open rollout, or opens one with `implicitId`. `terminations` and
   * `member`: the pod's entry in the workload's terminations (its termination's start, ms), which
   * decides whether the event belongs to an already closed rollout.
   */
  | {
      readonly type: 'rollout-touch';
      readonly target: WorkloadRef;
      readonly atMs: number;
      readonly implicitId: string;
      readonly quietMs: number;
      readonly terminations: string;
      readonly member: string;
    }
  /** Activity that keeps an open rollout from timing out, but never opens one. */
  | { readonly type: 'rollout-activity'; readonly target: WorkloadRef; readonly atMs: number };

/**
 * Writes of one event. `workload` is the workloadKey all its keys belong to, null for a write of
 * the global keys that needs no idempotency record (a dead letter); `id` is null exactly then.
 */
export type Entry =
  | {
      readonly id: string;
      readonly workload: string;
      readonly ops: readonly Op[];
      /**
       * The event's wire JSON, when its ops store it (as a member or a hash value): sent once, and
       * ops whose stored string is this very string leave it out (see encodeBatch).
       */
      readonly wire?: string;
    }
  | { readonly id: null; readonly workload: null; readonly ops: readonly Op[] };

/** A rollout change the apply or sweep script made. */
export interface RolloutNote {
  readonly kind: 'opened' | 'closed' | 'absorbed';
  readonly rolloutId: string;
}

export interface EncodedBatch {
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** The entries of one workload (`wk`, a workloadKey), as one section of a script call. */
export interface WorkloadEntries {
  readonly wk: string;
  readonly entries: readonly Entry[];
}

/**
 * Builds KEYS and ARGV of apply.lua for the workload sections given (after its first ARGV, the
 * retention, which the applier adds); the script's replies follow the sections' entries in order.
 * Each key is named once. Throws ScriptReplyError for an entry of another workload than its
 * section's or a dead letter: the applier groups entries first.
 */
export function encodeBatch(sections: readonly WorkloadEntries[]): EncodedBatch {
  const keys: string[] = [];
  const indexes = new Map<string, string>();
  const key = (k: string): string => {
    let i = indexes.get(k);
    if (i === undefined) {
      keys.push(k);
      i = String(keys.length);
      indexes.set(k, i);
    }
    return i;
  };
  const args: string[] = [];
  for (const { wk, entries } of sections) {
    // The rollouts hash records them as the events named them (decodeKeyPart inverts the key's encoding).
    const { namespace, workload } = parseWorkloadKey(wk);
    const own = [KEYS.open(wk), KEYS.rollouts(wk), KEYS.workloadRollouts(wk)].map(key);
    args.push(...own, namespace, workload, String(entries.length));
    for (const e of entries) {
      if (e.id === null || e.workload !== wk)
        throw new ScriptReplyError('apply', `an entry of ${e.workload} in a batch of ${wk}`);
      const wire = e.wire ?? '';
      // An event's idempotency key is its own: named without the lookup (hashing a freshly built
      // key string costs more than anything else here). An id twice in a batch names it twice,
      // and the second SET NX finds it set: a duplicate, as it should.
      keys.push(KEYS.seen(wk, e.id));
      args.push(String(keys.length), wire, String(e.ops.length));
      for (const op of e.ops) {
        const opWire = opArgs(op, key, wire);
        args.push(String(opWire.length), ...opWire);
      }
    }
  }
  return { keys, args };
}

/**
 * The longest string written into the packed fields at once, in UTF-16 units. V8 keeps strings
 * under 128 KiB in its young generation; a longer one goes to its large-object space, where a
 * batch's megabyte of fields cost about 20 times as much per byte to build (allocation and the
 * collections it brings) as the same bytes written in chunks of this size.
 */
const PACK_CHUNK_UNITS = 32 * 1024;

/**
 * The script's fields after the retention as one argument: each field as its UTF-8 byte length, a
 * colon, then its bytes (a netstring without the trailing comma), read back by apply.lua's
 * `unpack_fields`. One argument instead of about twenty per event: ioredis spends most of its
 * time per argument (a Command entry, a byte count and a socket write each), not per byte. A
 * Buffer, not a string: a batch's fields are about a megabyte, which as one string would be built
 * in V8's large-object space (see PACK_CHUNK_UNITS); ioredis sends a Buffer as it is.
 */
export function packFields(fields: readonly string[]): Buffer {
  const sizes = new Array<number>(fields.length);
  let total = 0;
  for (let i = 0; i < fields.length; i++) {
    const size = Buffer.byteLength(fields[i]!, 'utf8');
    sizes[i] = size;
    total += String(size).length + 1 + size;
  }
  const packed = Buffer.allocUnsafe(total);
  let offset = 0;
  let chunk = '';
  for (let i = 0; i < fields.length; i++) {
    chunk += `${sizes[i]}:${fields[i]}`;
    if (chunk.length >= PACK_CHUNK_UNITS) {
      offset += packed.write(chunk, offset, 'utf8');
      chunk = '';
    }
  }
  if (chunk !== '') offset += packed.write(chunk, offset, 'utf8');
  return packed;
}

/**
 * One op on the wire: its name, then its args in the order apply.lua reads them. A stored string
 * equal to the event's wire JSON is left out (the last arg): the script stores the wire sent once
 * per event, so a request record stored twice (timeline, probe index) crosses the socket once.
 */
function opArgs(op: Op, key: (k: string) => string, wire: string): string[] {
  switch (op.type) {
    case 'zadd':
    case 'zadd-lt':
      return op.member === wire && wire !== ''
        ? [op.type, key(op.key), String(op.score)]
        : [op.type, key(op.key), String(op.score), op.member];
    case 'hset':
      return op.value === wire && wire !== ''
        ? [op.type, key(op.key), op.field]
        : [op.type, key(op.key), op.field, op.value];
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
      // Global keys: written by the applier with plain commands, never in a workload's script.
      throw new ScriptReplyError('apply', 'a dead letter in a workload batch');
    case 'rollout-start': {
      const extra = Object.entries(op.fields).flat();
      const { rolloutId: id } = op;
      return [op.type, id, String(op.atMs), op.trigger, ...extra];
    }
    case 'rollout-finish': {
      const { rolloutId: id } = op;
      return [op.type, id, String(op.atMs), op.outcome, String(op.podsReplaced)];
    }
    case 'rollout-touch':
      return [op.type, op.implicitId, String(op.atMs), String(op.quietMs), key(op.terminations), op.member];
    case 'rollout-activity':
      return [op.type, String(op.atMs)];
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
