// The Redis key layout, in one place: every key the collector reads or writes is built here, and
// the Lua scripts receive them as KEYS. Keys are relative to the collector's prefix (ioredis
// `keyPrefix` adds it to KEYS). Names from users (namespaces, workloads, pods, rollout ids,
// session ids, event ids) are encoded with encodeKeyPart, so a `:`, `/`, `|` or space in one
// cannot collide with the layout.
//
// Redis Cluster runs a script only when all its keys hash to one slot. Every key of a workload's
// state (its rollouts, terminations, probe events, its pods' timelines, the idempotency records of
// its events) carries the workload as a hash tag, `w:{<namespace>/<workload>}:...`, so applying a
// workload's events is one script call in one slot, and workloads spread over the masters. The
// scripts build no key themselves: a workload's rollouts are fields of one hash (ROLLOUT_FIELDS),
// not one key each. The few global keys (the workload set, dead letters, the applied-seq marker)
// are written with plain commands, never inside a script. The encoding leaves no `{` or `}` in a
// tag (both are percent-encoded).

/** Bytes left as they are: encodeURIComponent's unreserved set, so keys written before stay the same. */
const UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]$/;
/** A string of unreserved bytes only: encoded as itself (the common case, checked in one test). */
const ALL_UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]*$/;
const HEX = '0123456789ABCDEF';

/**
 * Percent-encodes the UTF-8 bytes of `s`, except `A-Z a-z 0-9 - _ . ! ~ * ' ( )`. Equal to
 * encodeURIComponent for well-formed strings; a lone surrogate is encoded as the U+FFFD that
 * Redis receives for it instead of throwing.
 */
export function encodeKeyPart(s: string): string {
  // Every event makes several keys: most names need no encoding, and the byte loop is costly.
  if (ALL_UNRESERVED.test(s)) return s;
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(c) ? c : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** The inverse of encodeKeyPart. */
export function decodeKeyPart(s: string): string {
  return decodeURIComponent(s);
}

/** `<namespace>/<workload>`, encoded: the identity of a workload in keys and the open-rollout hash. */
export function workloadKey(namespace: string, workload: string): string {
  return `${encodeKeyPart(namespace)}/${encodeKeyPart(workload)}`;
}

/** The inverse of workloadKey. */
export function parseWorkloadKey(wk: string): { namespace: string; workload: string } {
  const at = wk.indexOf('/');
  return { namespace: decodeKeyPart(wk.slice(0, at)), workload: decodeKeyPart(wk.slice(at + 1)) };
}

/** `w:{<workloadKey>}`: the prefix, and hash tag, of every key of one workload's state. */
function w(wk: string): string {
  return `w:{${wk}}`;
}

export const KEYS = {
  /** SET of workloadKey: every workload that has had a rollout (plain SADD, outside the scripts). */
  workloads: 'workloads',
  /** SET of workloadKey: every workload with any stored state; where a pod's timeline is looked for. */
  anyWorkloads: 'workloads:any',
  /** STRING: the id of the workload's open rollout, absent when none is open. */
  open: (wk: string) => `${w(wk)}:open`,
  /** HASH of the workload's rollouts: field rolloutField(id, name) → value (ROLLOUT_FIELDS). */
  rollouts: (wk: string) => `${w(wk)}:rollouts`,
  /** ZSET rolloutId by start (ms), per workload. */
  workloadRollouts: (wk: string) => `${w(wk)}:ro`,
  /** ZSET terminationMember by the time its termination started (preStop or SIGTERM). */
  terminations: (wk: string) => `${w(wk)}:term`,
  /** ZSET terminationMember by termination start, while the pod has not exited. */
  terminating: (wk: string) => `${w(wk)}:terminating`,
  /** SET terminationMember that exited (so a late preStop cannot mark them terminating again). */
  exited: (wk: string) => `${w(wk)}:exited`,
  /** ZSET of probe events (JSON) by event time. */
  probe: (wk: string) => `${w(wk)}:probe`,
  /** ZSET of traffic summaries (JSON) by event time. */
  traffic: (wk: string) => `${w(wk)}:traffic`,
  /** HASH probeId → the agent's request record (JSON). */
  agentRequests: (wk: string) => `${w(wk)}:agentreq`,
  /** ZSET of a session's logins (JSON) by time, to find who issued it at any moment. */
  logins: (wk: string, sessionId: string) => `${w(wk)}:login:${encodeKeyPart(sessionId)}`,
  /** ZSET of a pod's events (JSON) by event time: its timeline (per workload the pod belongs to). */
  timeline: (wk: string, pod: string) => `${w(wk)}:pod:${encodeKeyPart(pod)}:tl`,
  /** HASH `<instance>|n` (events seen) and `<instance>|max` (highest seq) for gap detection. */
  seqs: (wk: string, pod: string) => `${w(wk)}:pod:${encodeKeyPart(pod)}:seq`,
  /** String per applied event id (SET NX EX): the idempotency record, in its workload's slot. */
  seen: (wk: string, eventId: string) => `${w(wk)}:seen:${encodeKeyPart(eventId)}`,
  /** LIST of refused events, newest first, bounded. */
  deadLetters: 'dead',
  /**
   * String: highest stream seq applied; its absence after acked messages means Redis lost its data
   * (history.ts). Named after the key layout: a collector finding an older layout's data rebuilds
   * the new one from the stream.
   */
  appliedSeq: 'applied-seq:2',
  /** String: the id of the collector replica that computes the workload gauges (lease.ts), with a TTL. */
  gaugeLease: 'gauge-lease',
} as const;

/**
 * Every field a rollout has in its workload's rollouts hash (collector/lua/apply.lua writes them,
 * decodeRollout reads them). apply.lua receives this list to delete an absorbed rollout and to
 * rename one (a finish before its start).
 */
export const ROLLOUT_FIELDS = [
  'id',
  'namespace',
  'workload',
  'trigger',
  'implicit',
  'startedAt',
  'lastActivity',
  'finishedAt',
  'outcome',
  'podsReplaced',
  'startPending',
  'replicas',
  'label',
  'maxSurge',
  'maxUnavailable',
] as const;

/**
 * A field of the rollouts hash: `<id>|<name>`. Unambiguous though the id may hold a `|`: names
 * hold none, so the name is what follows the last `|`.
 */
export function rolloutField(rolloutId: string, name: string): string {
  return `${rolloutId}|${name}`;
}

/** A member of the termination sets: `<pod>|<instance>`. */
export interface TerminationMember {
  readonly pod: string;
  readonly instance: string;
}

export function terminationMember(t: TerminationMember): string {
  return `${t.pod}|${t.instance}`;
}

/** The inverse of terminationMember: the instance never holds a `|`, the pod name might. */
export function parseTerminationMember(member: string): TerminationMember {
  const at = member.lastIndexOf('|');
  return { pod: member.slice(0, at), instance: member.slice(at + 1) };
}

/** Fields of the per-pod seq hash, per agent instance. */
export const SEQ_FIELDS = {
  count: (instance: string) => `${instance}|n`,
  max: (instance: string) => `${instance}|max`,
  /** The instance whose count field this is; undefined for another field. */
  instanceOfCount: (field: string) => (field.endsWith('|n') ? field.slice(0, -2) : undefined),
} as const;
