-- Applies a batch of events: for each event, records its id (SET NX) and applies its writes in the
-- same atomic step, so a crash never leaves an event applied but unrecorded (or the reverse), and a
-- redelivered event is a no-op. Rollout windows are opened and closed here too, so two collector
-- replicas applying events of the same workload at once still agree on one rollout.
--
-- The wire format is written by encodeBatch (collector/ops.ts), the only other place that knows it.
-- KEYS: 1 the open-rollout hash, 2 the rollout index, 3 the workload set, then every other key of
-- the batch; ops name their keys by index into KEYS.
-- ARGV: 1 the rollout key prefix, 2 retention (s), then per event: its idempotency key's index
-- ('0' = none), its op count, and per op: the op's arg count, then the args (name first).
-- Returns { applied (1/0 per event), notes ({ 'opened'|'closed'|'absorbed', rollout id } ...) }.
local OPEN, ROLLOUTS, WORKLOADS = KEYS[1], KEYS[2], KEYS[3]
local rollout_prefix = ARGV[1]
local ttl = tonumber(ARGV[2])
local results = {}
local notes = {}
-- Keys written in this batch get their retention once, at the end, not once per write.
local touched = {}

-- The only key built here: the hash of a rollout whose id was read out of Redis.
local function rollout_key(id)
  return rollout_prefix .. encode_key_part(id)
end

local function note(what, id)
  table.insert(notes, { what, id })
end

-- w: the workload an op is about: wk (its field in OPEN and member of WORKLOADS), ns, wl, and
-- index (its rollout index key).
local function index(w, id, t)
  redis.call('ZADD', ROLLOUTS, t, id)
  redis.call('ZADD', w.index, t, id)
  redis.call('SADD', WORKLOADS, w.wk)
end

local function unindex(w, id)
  redis.call('ZREM', ROLLOUTS, id)
  redis.call('ZREM', w.index, id)
end

local function close(w, id, k, t, outcome)
  redis.call('HSET', k, 'finishedAt', t, 'outcome', outcome)
  if redis.call('HGET', OPEN, w.wk) == id then redis.call('HDEL', OPEN, w.wk) end
  if redis.call('HEXISTS', k, 'startedAt') == 1 then note('closed', id) end
end

local function rollout_start(w, k, id, t, trigger, extra)
  if redis.call('HEXISTS', k, 'startedAt') == 1 then return end
  local la = t
  local open_id = redis.call('HGET', OPEN, w.wk)
  if open_id and open_id ~= id then
    local ok = rollout_key(open_id)
    if redis.call('HGET', ok, 'implicit') == '1' then
      -- The rollout was opened implicitly by a preStop that got here before its rollout.started:
      -- the explicit rollout takes it over, window and all.
      local s = tonumber(redis.call('HGET', ok, 'startedAt'))
      local ola = tonumber(redis.call('HGET', ok, 'lastActivity'))
      if s < t then t = s end
      if ola > la then la = ola end
      redis.call('DEL', ok)
      unindex(w, open_id)
      redis.call('HDEL', OPEN, w.wk)
      note('absorbed', open_id)
    else
      close(w, open_id, ok, t, 'aborted')
    end
  end
  redis.call('HSET', k, 'id', id, 'namespace', w.ns, 'workload', w.wl, 'trigger', trigger, 'implicit', '0',
    'startedAt', t, 'lastActivity', la)
  for i = 1, #extra, 2 do redis.call('HSET', k, extra[i], extra[i + 1]) end
  index(w, id, t)
  if redis.call('HEXISTS', k, 'finishedAt') == 1 then
    note('closed', id)
  else
    redis.call('HSET', OPEN, w.wk, id)
    note('opened', id)
  end
end

local function rollout_finish(w, k, id, t, outcome, replaced)
  if redis.call('EXISTS', k) == 0 then
    local open_id = redis.call('HGET', OPEN, w.wk)
    if open_id and redis.call('HGET', rollout_key(open_id), 'implicit') == '1' then
      -- A finish for a rollout whose start we never saw closes the one its preStops opened.
      redis.call('HSET', rollout_key(open_id), 'finishedAs', id)
      id = open_id
      k = rollout_key(open_id)
    end
  end
  local prev = redis.call('HGET', k, 'outcome')
  if prev and prev ~= 'timeout' then return end
  redis.call('HSET', k, 'id', id, 'namespace', w.ns, 'workload', w.wl, 'podsReplaced', replaced)
  if prev then
    redis.call('HSET', k, 'finishedAt', t, 'outcome', outcome)
  else
    close(w, id, k, t, outcome)
  end
end

local function rollout_touch(w, implicit_key, implicit_id, t, quiet)
  local open_id = redis.call('HGET', OPEN, w.wk)
  if open_id then
    local k = rollout_key(open_id)
    local la = tonumber(redis.call('HGET', k, 'lastActivity'))
    local s = tonumber(redis.call('HGET', k, 'startedAt'))
    if t > la + quiet then
      close(w, open_id, k, la, 'timeout')
    else
      if t > la then redis.call('HSET', k, 'lastActivity', t) end
      if t < s then
        redis.call('HSET', k, 'startedAt', t)
        index(w, open_id, t)
      end
      return
    end
  else
    local last = redis.call('ZREVRANGEBYSCORE', w.index, t, '-inf', 'LIMIT', 0, 1)
    if last[1] then
      local f = tonumber(redis.call('HGET', rollout_key(last[1]), 'finishedAt'))
      -- A late event inside a rollout that has already closed belongs to it.
      if f and t <= f then return end
    end
  end
  redis.call('HSET', implicit_key, 'id', implicit_id, 'namespace', w.ns, 'workload', w.wl,
    'trigger', 'implicit', 'implicit', '1', 'startedAt', t, 'lastActivity', t)
  index(w, implicit_id, t)
  redis.call('HSET', OPEN, w.wk, implicit_id)
  note('opened', implicit_id)
end

local function rollout_activity(wk, t)
  local open_id = redis.call('HGET', OPEN, wk)
  if not open_id then return end
  local k = rollout_key(open_id)
  local la = tonumber(redis.call('HGET', k, 'lastActivity'))
  if la and t > la then redis.call('HSET', k, 'lastActivity', t) end
end

local function workload(op)
  return { wk = op[2], ns = op[3], wl = op[4], index = KEYS[tonumber(op[5])] }
end

local function key(op, i)
  return KEYS[tonumber(op[i])]
end

local function touch(k)
  touched[k] = true
end

local function apply(op)
  local name = op[1]
  if name == 'zadd' then
    redis.call('ZADD', key(op, 2), op[3], op[4])
    touch(key(op, 2))
  elseif name == 'zadd-lt' then
    redis.call('ZADD', key(op, 2), 'LT', op[3], op[4])
    touch(key(op, 2))
  elseif name == 'hset' then
    redis.call('HSET', key(op, 2), op[3], op[4])
    touch(key(op, 2))
  elseif name == 'seq' then
    local k = key(op, 2)
    redis.call('HINCRBY', k, op[3], 1)
    local m = tonumber(redis.call('HGET', k, op[4]))
    if not m or tonumber(op[5]) > m then redis.call('HSET', k, op[4], op[5]) end
    touch(k)
  elseif name == 'termination-start' then
    if redis.call('SISMEMBER', key(op, 3), op[5]) == 0 then
      redis.call('ZADD', key(op, 2), 'NX', op[4], op[5])
      touch(key(op, 2))
    end
  elseif name == 'termination-end' then
    redis.call('SADD', key(op, 3), op[4])
    redis.call('ZREM', key(op, 2), op[4])
    touch(key(op, 3))
  elseif name == 'dead-letter' then
    redis.call('LPUSH', key(op, 2), op[3])
    redis.call('LTRIM', key(op, 2), 0, tonumber(op[4]) - 1)
  elseif name == 'rollout-start' then
    local extra = {}
    for a = 10, #op do extra[#extra + 1] = op[a] end
    rollout_start(workload(op), key(op, 6), op[7], tonumber(op[8]), op[9], extra)
  elseif name == 'rollout-finish' then
    rollout_finish(workload(op), key(op, 6), op[7], tonumber(op[8]), op[9], op[10])
  elseif name == 'rollout-touch' then
    rollout_touch(workload(op), key(op, 6), op[7], tonumber(op[8]), tonumber(op[9]))
  elseif name == 'rollout-activity' then
    rollout_activity(op[2], tonumber(op[3]))
  end
end

local i = 3
local e = 0
while i <= #ARGV do
  e = e + 1
  local seen = tonumber(ARGV[i])
  local nops = tonumber(ARGV[i + 1])
  i = i + 2
  local fresh = true
  if seen ~= 0 then
    fresh = redis.call('SET', KEYS[seen], '1', 'NX', 'EX', ttl)
  end
  for _ = 1, nops do
    local nargs = tonumber(ARGV[i])
    if fresh then
      local op = {}
      for a = 1, nargs do op[a] = ARGV[i + a] end
      apply(op)
    end
    i = i + nargs + 1
  end
  results[e] = fresh and 1 or 0
end
for k in pairs(touched) do redis.call('EXPIRE', k, ttl) end
return { results, notes }
