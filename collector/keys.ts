// The Redis key layout, in one place. Keys are relative to the collector's prefix (ioredis
// `keyPrefix` adds it; the Lua script adds it itself). Names from users are URI-encoded so a `:`
// or `/` in a namespace or pod name cannot collide with the layout.

const enc = encodeURIComponent;

/** `<namespace>/<workload>`, encoded: the identity of a workload in keys and the open-rollout hash. */
export function workloadKey(namespace: string, workload: string): string {
  return `${enc(namespace)}/${enc(workload)}`;
}

export const KEYS = {
  /** SET of workloadKey. */
  workloads: 'workloads',
  /** ZSET rolloutId by start (ms). */
  rollouts: 'rollouts',
  /** HASH workloadKey → id of its open rollout. */
  open: 'open',
  /** HASH of one rollout. */
  rollout: (id: string) => `ro:${enc(id)}`,
  /** ZSET rolloutId by start, per workload. */
  workloadRollouts: (wk: string) => `w:${wk}:ro`,
  /** ZSET `<pod>|<instance>` by the time its termination started (preStop or SIGTERM). */
  terminations: (wk: string) => `w:${wk}:term`,
  /** ZSET of probe events (JSON) by event time. */
  probe: (wk: string) => `w:${wk}:probe`,
  /** ZSET of traffic summaries (JSON) by event time. */
  traffic: (wk: string) => `w:${wk}:traffic`,
  /** HASH probeId → the agent's request record (JSON). */
  agentRequests: (wk: string) => `w:${wk}:agentreq`,
  /** ZSET of a session's logins (JSON) by time, to find who issued it at any moment. */
  logins: (wk: string, sessionId: string) => `w:${wk}:login:${enc(sessionId)}`,
  /** ZSET of a pod's events (JSON) by event time: its timeline. */
  timeline: (namespace: string, pod: string) => `pod:${enc(namespace)}/${enc(pod)}:tl`,
  /** HASH `<instance>|n` (events seen) and `<instance>|max` (highest seq) for gap detection. */
  seqs: (namespace: string, pod: string) => `pod:${enc(namespace)}/${enc(pod)}:seq`,
  /** String per applied event id (SET NX EX): the idempotency record. */
  seen: (id: string) => `seen:${id}`,
  /** LIST of refused events, newest first, bounded. */
  deadLetters: 'dead',
} as const;
