import type { Redis } from 'ioredis';
import type { AnyEvent } from '../contract/envelope.js';
import { KEYS, workloadKey } from './keys.js';

// Applying events to Redis. A batch of events becomes one Lua script call: for each event the
// script records its id (SET NX) and applies its writes in the same atomic step, so a crash can
// never leave an event applied but unrecorded (or the reverse), and a redelivered event is a no-op.
// Rollout windows are opened and closed inside the script too, so two collector replicas applying
// events of the same workload at once still agree on one rollout.

/** One write. Keys are relative to the prefix; the script adds it. */
export type Op =
  | readonly ['z', key: string, score: string, member: string]
  | readonly ['zlt', key: string, score: string, member: string]
  | readonly ['h', key: string, field: string, value: string]
  | readonly ['seq', key: string, instance: string, seq: string]
  | readonly [
      'ros',
      wk: string,
      ns: string,
      wl: string,
      id: string,
      t: string,
      trigger: string,
      extra: string[],
    ]
  | readonly [
      'rof',
      wk: string,
      ns: string,
      wl: string,
      id: string,
      t: string,
      outcome: string,
      replaced: string,
    ]
  | readonly ['rot', wk: string, ns: string, wl: string, t: string, implicitId: string, quietMs: string]
  | readonly ['roa', wk: string, t: string]
  | readonly ['dl', key: string, value: string, max: string];

/** Writes of one event; `id` null for writes that need no idempotency record (dead letters). */
export interface Entry {
  readonly id: string | null;
  readonly ops: readonly Op[];
}

export interface BatchResult {
  /** Per entry: true when applied now, false when its id had been applied before. */
  readonly applied: readonly boolean[];
  /** Rollout changes, as `opened|<id>`, `closed|<id>`, `absorbed|<id>`. */
  readonly notes: readonly string[];
}

const APPLY_SCRIPT = `
local P = ARGV[1]
local ttl = tonumber(ARGV[2])
local batch = cjson.decode(ARGV[3])
local results = {}
local notes = {}
-- Keys written in this batch get their retention once, at the end, not once per write.
local touched = {}

local function index(id, wk, t)
  redis.call('ZADD', P .. 'rollouts', t, id)
  redis.call('ZADD', P .. 'w:' .. wk .. ':ro', t, id)
  redis.call('SADD', P .. 'workloads', wk)
end

local function unindex(id, wk)
  redis.call('ZREM', P .. 'rollouts', id)
  redis.call('ZREM', P .. 'w:' .. wk .. ':ro', id)
end

local function close(id, wk, t, outcome)
  local k = P .. 'ro:' .. id
  redis.call('HSET', k, 'finishedAt', t, 'outcome', outcome)
  if redis.call('HGET', P .. 'open', wk) == id then redis.call('HDEL', P .. 'open', wk) end
  if redis.call('HEXISTS', k, 'startedAt') == 1 then table.insert(notes, 'closed|' .. id) end
end

local function ro_start(wk, ns, wl, id, t, trigger, extra)
  local k = P .. 'ro:' .. id
  if redis.call('HEXISTS', k, 'startedAt') == 1 then return end
  local la = t
  local openId = redis.call('HGET', P .. 'open', wk)
  if openId and openId ~= id then
    local ok = P .. 'ro:' .. openId
    if redis.call('HGET', ok, 'implicit') == '1' then
      -- The rollout was opened implicitly by a preStop that got here before its rollout.started:
      -- the explicit rollout takes it over, window and all.
      local s = tonumber(redis.call('HGET', ok, 'startedAt'))
      local ola = tonumber(redis.call('HGET', ok, 'lastActivity'))
      if s < t then t = s end
      if ola > la then la = ola end
      redis.call('DEL', ok)
      unindex(openId, wk)
      redis.call('HDEL', P .. 'open', wk)
      table.insert(notes, 'absorbed|' .. openId)
    else
      close(openId, wk, t, 'aborted')
    end
  end
  redis.call('HSET', k, 'id', id, 'namespace', ns, 'workload', wl, 'trigger', trigger, 'implicit', '0',
    'startedAt', t, 'lastActivity', la)
  for i = 1, #extra, 2 do redis.call('HSET', k, extra[i], extra[i + 1]) end
  index(id, wk, t)
  if redis.call('HEXISTS', k, 'finishedAt') == 1 then
    table.insert(notes, 'closed|' .. id)
  else
    redis.call('HSET', P .. 'open', wk, id)
    table.insert(notes, 'opened|' .. id)
  end
end

local function ro_finish(wk, ns, wl, id, t, outcome, replaced)
  local k = P .. 'ro:' .. id
  if redis.call('EXISTS', k) == 0 then
    local openId = redis.call('HGET', P .. 'open', wk)
    if openId and redis.call('HGET', P .. 'ro:' .. openId, 'implicit') == '1' then
      -- A finish for a rollout whose start we never saw closes the one its preStops opened.
      redis.call('HSET', P .. 'ro:' .. openId, 'finishedAs', id)
      id = openId
      k = P .. 'ro:' .. id
    end
  end
  local prev = redis.call('HGET', k, 'outcome')
  if prev and prev ~= 'timeout' then return end
  redis.call('HSET', k, 'id', id, 'namespace', ns, 'workload', wl, 'podsReplaced', replaced)
  if prev then
    redis.call('HSET', k, 'finishedAt', t, 'outcome', outcome)
  else
    close(id, wk, t, outcome)
  end
end

local function ro_touch(wk, ns, wl, t, implicitId, quiet)
  local openId = redis.call('HGET', P .. 'open', wk)
  if openId then
    local k = P .. 'ro:' .. openId
    local la = tonumber(redis.call('HGET', k, 'lastActivity'))
    local s = tonumber(redis.call('HGET', k, 'startedAt'))
    if t > la + quiet then
      close(openId, wk, la, 'timeout')
    else
      if t > la then redis.call('HSET', k, 'lastActivity', t) end
      if t < s then
        redis.call('HSET', k, 'startedAt', t)
        index(openId, wk, t)
      end
      return
    end
  else
    local last = redis.call('ZREVRANGEBYSCORE', P .. 'w:' .. wk .. ':ro', t, '-inf', 'LIMIT', 0, 1)
    if last[1] then
      local f = tonumber(redis.call('HGET', P .. 'ro:' .. last[1], 'finishedAt'))
      -- A late event inside a rollout that has already closed belongs to it.
      if f and t <= f then return end
    end
  end
  local k = P .. 'ro:' .. implicitId
  redis.call('HSET', k, 'id', implicitId, 'namespace', ns, 'workload', wl, 'trigger', 'implicit',
    'implicit', '1', 'startedAt', t, 'lastActivity', t)
  index(implicitId, wk, t)
  redis.call('HSET', P .. 'open', wk, implicitId)
  table.insert(notes, 'opened|' .. implicitId)
end

local function ro_activity(wk, t)
  local openId = redis.call('HGET', P .. 'open', wk)
  if not openId then return end
  local k = P .. 'ro:' .. openId
  local la = tonumber(redis.call('HGET', k, 'lastActivity'))
  if la and t > la then redis.call('HSET', k, 'lastActivity', t) end
end

for i, entry in ipairs(batch) do
  local fresh = true
  if entry[1] ~= cjson.null then
    fresh = redis.call('SET', P .. 'seen:' .. entry[1], '1', 'NX', 'EX', ttl)
  end
  if fresh then
    for _, op in ipairs(entry[2]) do
      local o = op[1]
      if o == 'z' then
        redis.call('ZADD', P .. op[2], op[3], op[4])
        touched[P .. op[2]] = true
      elseif o == 'zlt' then
        redis.call('ZADD', P .. op[2], 'LT', op[3], op[4])
        touched[P .. op[2]] = true
      elseif o == 'h' then
        redis.call('HSET', P .. op[2], op[3], op[4])
        touched[P .. op[2]] = true
      elseif o == 'seq' then
        local k = P .. op[2]
        redis.call('HINCRBY', k, op[3] .. '|n', 1)
        local m = tonumber(redis.call('HGET', k, op[3] .. '|max'))
        if not m or tonumber(op[4]) > m then redis.call('HSET', k, op[3] .. '|max', op[4]) end
        touched[k] = true
      elseif o == 'ros' then
        ro_start(op[2], op[3], op[4], op[5], tonumber(op[6]), op[7], op[8])
      elseif o == 'rof' then
        ro_finish(op[2], op[3], op[4], op[5], tonumber(op[6]), op[7], op[8])
      elseif o == 'rot' then
        ro_touch(op[2], op[3], op[4], tonumber(op[5]), op[6], tonumber(op[7]))
      elseif o == 'roa' then
        ro_activity(op[2], tonumber(op[3]))
      elseif o == 'dl' then
        redis.call('LPUSH', P .. op[2], op[3])
        redis.call('LTRIM', P .. op[2], 0, tonumber(op[4]) - 1)
      end
    end
    results[i] = 1
  else
    results[i] = 0
  end
end
for k in pairs(touched) do redis.call('EXPIRE', k, ttl) end
return { results, notes }
`;

const SWEEP_SCRIPT = `
local P = ARGV[1]
local now = tonumber(ARGV[2])
local quiet = tonumber(ARGV[3])
local open = redis.call('HGETALL', P .. 'open')
local closed = {}
for i = 1, #open, 2 do
  local wk, id = open[i], open[i + 1]
  local k = P .. 'ro:' .. id
  local la = tonumber(redis.call('HGET', k, 'lastActivity'))
  if la and now - la > quiet then
    redis.call('HSET', k, 'finishedAt', la, 'outcome', 'timeout')
    redis.call('HDEL', P .. 'open', wk)
    table.insert(closed, id)
  end
end
return closed
`;

export interface Applier {
  apply(entries: readonly Entry[]): Promise<BatchResult>;
  /** Closes rollouts quiet for longer than `quietMs` at `nowMs`; returns their ids. */
  sweep(nowMs: number, quietMs: number): Promise<string[]>;
}

type ScriptRedis = Redis & {
  drainwatchApply(prefix: string, ttl: string, batch: string): Promise<[number[], string[]]>;
  drainwatchSweep(prefix: string, now: string, quiet: string): Promise<string[]>;
};

export function createApplier(redis: Redis, options: { dedupTtlSeconds: number }): Applier {
  // defineCommand sends EVALSHA and falls back to EVAL after a NOSCRIPT (a restarted Redis).
  const r = redis as ScriptRedis;
  if (typeof r.drainwatchApply !== 'function') {
    redis.defineCommand('drainwatchApply', { numberOfKeys: 0, lua: APPLY_SCRIPT });
    redis.defineCommand('drainwatchSweep', { numberOfKeys: 0, lua: SWEEP_SCRIPT });
  }
  const prefix = redis.options.keyPrefix ?? '';
  const ttl = String(options.dedupTtlSeconds);
  return {
    async apply(entries) {
      if (entries.length === 0) return { applied: [], notes: [] };
      const wire = entries.map((e) => [e.id ?? null, e.ops]);
      const [results, notes] = await r.drainwatchApply(prefix, ttl, JSON.stringify(wire));
      return { applied: results.map((x) => x === 1), notes };
    },
    async sweep(nowMs, quietMs) {
      return r.drainwatchSweep(prefix, String(nowMs), String(quietMs));
    },
  };
}

export interface OpsOptions {
  readonly quietMs: number;
}

function compactTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** The writes one valid event makes. Pure: the same event always gives the same writes. */
export function eventOps(event: AnyEvent, options: OpsOptions): Op[] {
  const t = Date.parse(event.time);
  const ts = String(t);
  const wk = workloadKey(event.namespace, event.workload);
  const ops: Op[] = [];
  const ns = event.namespace;
  if (event.pod !== null) {
    const pod = event.pod;
    ops.push(['seq', KEYS.seqs(ns, pod), event.instance, String(event.seq)]);
    const member = JSON.stringify({
      id: event.id,
      kind: event.kind,
      time: event.time,
      instance: event.instance,
      seq: event.seq,
      data: event.data,
    });
    ops.push(['z', KEYS.timeline(ns, pod), ts, member]);
  }
  switch (event.kind) {
    case 'prestop.started':
    case 'sigterm': {
      const term = `${event.pod ?? ''}|${event.instance}`;
      ops.push(['zlt', KEYS.terminations(wk), ts, term]);
      const implicitId = `${event.workload}-${compactTime(t)}-${event.id.slice(0, 6)}`;
      ops.push(['rot', wk, ns, event.workload, ts, implicitId, String(options.quietMs)]);
      break;
    }
    case 'prestop.finished':
    case 'app.stopped-listening':
    case 'app.exited':
    case 'drain.summary':
    case 'endpoints.propagated':
      ops.push(['roa', wk, ts]);
      break;
    case 'request':
      if (event.data.probeId) {
        const record = JSON.stringify({
          pod: event.pod,
          instance: event.instance,
          time: event.time,
          ...event.data,
        });
        ops.push(['h', KEYS.agentRequests(wk), event.data.probeId, record]);
      }
      break;
    case 'traffic.summary':
      ops.push([
        'z',
        KEYS.traffic(wk),
        ts,
        JSON.stringify({ id: event.id, pod: event.pod, time: event.time, data: event.data }),
      ]);
      break;
    case 'rollout.started': {
      const d = event.data;
      const extra: string[] = [];
      if (d.replicas !== undefined) extra.push('replicas', String(d.replicas));
      if (d.label !== undefined) extra.push('label', d.label);
      if (d.maxSurge !== undefined) extra.push('maxSurge', String(d.maxSurge));
      if (d.maxUnavailable !== undefined) extra.push('maxUnavailable', String(d.maxUnavailable));
      ops.push(['ros', wk, ns, event.workload, d.rolloutId, ts, d.trigger, extra]);
      break;
    }
    case 'rollout.finished':
      ops.push([
        'rof',
        wk,
        ns,
        event.workload,
        event.data.rolloutId,
        ts,
        event.data.outcome,
        String(event.data.podsReplaced),
      ]);
      break;
    case 'probe.request':
    case 'probe.session':
    case 'probe.websocket':
    case 'probe.summary': {
      const member = JSON.stringify({ id: event.id, kind: event.kind, time: event.time, data: event.data });
      ops.push(['z', KEYS.probe(wk), ts, member]);
      if (event.kind === 'probe.session' && event.data.event === 'login') {
        const login = JSON.stringify({ id: event.id, issuedBy: event.data.issuedBy ?? null });
        ops.push(['z', KEYS.logins(wk, event.data.sessionId), String(Date.parse(event.data.at)), login]);
      }
      break;
    }
    default:
      break;
  }
  return ops;
}

export interface DeadLetter {
  readonly reason: string;
  readonly field: string;
  readonly subject: string;
  readonly raw: string;
}

export const DEAD_LETTER_RAW_MAX = 1024;

export function deadLetterOp(letter: DeadLetter, max: number): Op {
  const raw = letter.raw.length > DEAD_LETTER_RAW_MAX ? letter.raw.slice(0, DEAD_LETTER_RAW_MAX) : letter.raw;
  return ['dl', KEYS.deadLetters, JSON.stringify({ ...letter, raw }), String(max)];
}
