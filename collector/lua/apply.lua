-- Applies a batch of events of one or more workloads: for each event, records its id (SET NX) and
-- applies its writes in the same atomic step, so a crash never leaves an event applied but
-- unrecorded (or the reverse), and a redelivered event is a no-op. Rollout windows are opened and
-- closed here too, so two collector replicas applying events of the same workload at once still
-- agree on one rollout.
--
-- Every key is named in KEYS: the script builds none. On a Redis Cluster a call carries the events
-- of one workload only (its keys share one hash tag, so one slot); on a single Redis one call
-- carries a whole batch, every workload in it, which saves a round trip and a script start per
-- workload. A rollout's fields live in the workload's rollouts hash as `<id>|<name>`. The wire
-- format is written by encodeBatch (collector/ops.ts), the only other place that knows it.
-- KEYS: every key of the batch; ops and workload sections name their keys by index into KEYS.
-- ARGV: 1 retention (s), 2 every other field packed into one string (packFields of
-- collector/ops.ts: each field as its byte length, ':', its bytes), unpacked into A. The fields of A:
-- per workload section: the indexes of its open-rollout string, its
-- rollouts hash and its rollout index, its namespace, its workload, its event count; then per
-- event: its idempotency key's index ('0' = none), its wire JSON ('' = none), its op count, and per
-- op: the op's arg count, then the args (name first). A zadd, zadd-lt or hset without its last arg
-- (member or value) stores the event's wire JSON.
-- Returns { applied (1/0 per event, in order), notes ({ 'opened'|'closed'|'absorbed', rollout id } ...) }.
-- The rollout field names (ROLLOUT_FIELDS of collector/keys.ts) are written into the source when
-- it is loaded (collector/scripts.ts), so no call carries them.
local FIELDS = { --[[ROLLOUT_FIELDS]] }
local ttl = tonumber(ARGV[1])
-- The packed fields, unpacked once (string.find and string.sub: a handful of C calls per field).
local A = {}
do
  local packed = ARGV[2]
  local pos, n, last = 1, 0, #packed
  while pos <= last do
    local colon = string.find(packed, ':', pos, true)
    local size = tonumber(string.sub(packed, pos, colon - 1))
    n = n + 1
    A[n] = string.sub(packed, colon + 1, colon + size)
    pos = colon + size + 1
  end
end
-- The current workload section's keys and names.
local OPEN, RO, INDEX, NS, WL
-- The current event's wire JSON.
local WIRE
local results = {}
local notes = {}
-- Keys written in this batch get their retention once, at the end, not once per write.
local touched = {}

local function rget(id, name)
  return redis.call('HGET', RO, id .. '|' .. name)
end

local function rhas(id, name)
  return redis.call('HEXISTS', RO, id .. '|' .. name) == 1
end

-- rset(id, name, value, name, value, ...)
local function rset(id, ...)
  local kv = { ... }
  local args = {}
  for i = 1, #kv, 2 do
    args[#args + 1] = id .. '|' .. kv[i]
    args[#args + 1] = kv[i + 1]
  end
  redis.call('HSET', RO, unpack(args))
end

local function rdel(id)
  local args = {}
  for f = 1, #FIELDS do args[f] = id .. '|' .. FIELDS[f] end
  redis.call('HDEL', RO, unpack(args))
end

local function open_id()
  return redis.call('GET', OPEN)
end

local function note(what, id)
  table.insert(notes, { what, id })
end

local function close(id, t, outcome)
  rset(id, 'finishedAt', t, 'outcome', outcome)
  if open_id() == id then redis.call('DEL', OPEN) end
  if rhas(id, 'startedAt') then note('closed', id) end
end

-- Moves a rollout's fields to another id (one that has none), its index entry and the open
-- rollout with them.
local function rename(from, to)
  local args = {}
  for f = 1, #FIELDS do
    local v = rget(from, FIELDS[f])
    if v then
      args[#args + 1] = FIELDS[f]
      args[#args + 1] = v
    end
  end
  rdel(from)
  rset(to, unpack(args))
  rset(to, 'id', to)
  redis.call('ZREM', INDEX, from)
  redis.call('ZADD', INDEX, tonumber(rget(to, 'startedAt')), to)
  if open_id() == from then redis.call('SET', OPEN, to) end
  note('absorbed', from)
end

-- A rollout whose rollout.finished came before its rollout.started (see rollout_finish) gets
-- what that start would have given it: its trigger, and its start if earlier.
local function late_start(id, t, trigger, extra)
  if t < tonumber(rget(id, 'startedAt')) then
    rset(id, 'startedAt', t)
    redis.call('ZADD', INDEX, t, id)
  end
  if t > tonumber(rget(id, 'lastActivity')) then rset(id, 'lastActivity', t) end
  rset(id, 'trigger', trigger, 'implicit', '0')
  if #extra > 0 then rset(id, unpack(extra)) end
  redis.call('HDEL', RO, id .. '|startPending')
end

local function rollout_start(id, t, trigger, extra)
  local legacy = rget(id, 'aliasOf')
  if legacy then
    -- Written by the script before 2026-12-01: the finish closed the implicit rollout under its
    -- own id (`finishedAs`) and left this way back. It takes the controller's id now, as today.
    redis.call('HDEL', RO, id .. '|aliasOf', legacy .. '|finishedAs')
    if rhas(legacy, 'startedAt') and not rhas(id, 'id') then
      rename(legacy, id)
      rset(id, 'startPending', '1')
    end
  end
  if rhas(id, 'startedAt') then
    if rhas(id, 'startPending') then late_start(id, t, trigger, extra) end
    return
  end
  local la = t
  local current = open_id()
  if current and current ~= id then
    if rget(current, 'implicit') == '1' then
      -- The rollout was opened implicitly by a preStop that got here before its rollout.started:
      -- the explicit rollout takes it over, window and all.
      local s = tonumber(rget(current, 'startedAt'))
      local ola = tonumber(rget(current, 'lastActivity'))
      if s < t then t = s end
      if ola > la then la = ola end
      rdel(current)
      redis.call('ZREM', INDEX, current)
      redis.call('DEL', OPEN)
      note('absorbed', current)
    else
      close(current, t, 'aborted')
    end
  end
  rset(id, 'id', id, 'namespace', NS, 'workload', WL, 'trigger', trigger, 'implicit', '0',
    'startedAt', t, 'lastActivity', la)
  if #extra > 0 then rset(id, unpack(extra)) end
  redis.call('ZADD', INDEX, t, id)
  if rhas(id, 'finishedAt') then
    note('closed', id)
  else
    redis.call('SET', OPEN, id)
    note('opened', id)
  end
end

local function rollout_finish(id, t, outcome, replaced)
  if not rhas(id, 'id') then
    local current = open_id()
    if current and rget(current, 'implicit') == '1' then
      -- A finish for a rollout whose start we never saw closes the one its preStops opened, which
      -- takes the controller's id now, as the start would have had it come first: the id of a
      -- report never depends on the order its events were applied in.
      rename(current, id)
      rset(id, 'startPending', '1')
    end
  end
  local prev = rget(id, 'outcome')
  if prev and prev ~= 'timeout' then return end
  rset(id, 'id', id, 'namespace', NS, 'workload', WL, 'podsReplaced', replaced)
  if prev then
    rset(id, 'finishedAt', t, 'outcome', outcome)
  else
    close(id, t, outcome)
  end
end

-- `since`: when the pod's termination began (its earliest preStop or SIGTERM applied so far).
local function rollout_touch(implicit_id, t, quiet, since)
  local current = open_id()
  if current then
    local la = tonumber(rget(current, 'lastActivity'))
    local s = tonumber(rget(current, 'startedAt'))
    if t > la + quiet then
      close(current, la, 'timeout')
    else
      if t > la then rset(current, 'lastActivity', t) end
      if t < s then
        rset(current, 'startedAt', t)
        redis.call('ZADD', INDEX, t, current)
      end
      return
    end
  else
    local last = redis.call('ZREVRANGEBYSCORE', INDEX, since, '-inf', 'LIMIT', 0, 1)
    if last[1] then
      local f = tonumber(rget(last[1], 'finishedAt'))
      -- A late event inside a rollout that has already closed belongs to it, and so does a pod's
      -- SIGTERM after the rollout's finish when its termination began inside it: a controller
      -- reports complete while old pods still drain.
      if f and since <= f then return end
    end
    -- The next rollout was closed by a rollout.finished whose rollout.started has not come yet
    -- (rollout_finish): its start is not known, so an event before its finish and after the
    -- rollout before it is one of its own that arrived late; it moves the start back.
    local next = redis.call('ZRANGEBYSCORE', INDEX, '(' .. t, '+inf', 'LIMIT', 0, 1)
    if next[1] and rhas(next[1], 'startPending') then
      local f = tonumber(rget(next[1], 'finishedAt'))
      if f and t <= f then
        rset(next[1], 'startedAt', t)
        redis.call('ZADD', INDEX, t, next[1])
        return
      end
    end
  end
  rset(implicit_id, 'id', implicit_id, 'namespace', NS, 'workload', WL, 'trigger', 'implicit',
    'implicit', '1', 'startedAt', t, 'lastActivity', t)
  redis.call('ZADD', INDEX, t, implicit_id)
  redis.call('SET', OPEN, implicit_id)
  note('opened', implicit_id)
end

local function rollout_activity(t)
  local current = open_id()
  if not current then return end
  local la = tonumber(rget(current, 'lastActivity'))
  if la and t > la then rset(current, 'lastActivity', t) end
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
    redis.call('ZADD', key(op, 2), op[3], op[4] or WIRE)
    touch(key(op, 2))
  elseif name == 'zadd-lt' then
    redis.call('ZADD', key(op, 2), 'LT', op[3], op[4] or WIRE)
    touch(key(op, 2))
  elseif name == 'hset' then
    redis.call('HSET', key(op, 2), op[3], op[4] or WIRE)
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
  elseif name == 'rollout-start' then
    local extra = {}
    for a = 5, #op do extra[#extra + 1] = op[a] end
    rollout_start(op[2], tonumber(op[3]), op[4], extra)
  elseif name == 'rollout-finish' then
    rollout_finish(op[2], tonumber(op[3]), op[4], op[5])
  elseif name == 'rollout-touch' then
    local t = tonumber(op[3])
    local since = tonumber(redis.call('ZSCORE', key(op, 5), op[6]))
    if not since or since > t then since = t end
    rollout_touch(op[2], t, tonumber(op[4]), since)
  elseif name == 'rollout-activity' then
    rollout_activity(tonumber(op[2]))
  end
end

local function apply_event(i, e)
  local seen = tonumber(A[i])
  WIRE = A[i + 1]
  local nops = tonumber(A[i + 2])
  i = i + 3
  local fresh = true
  if seen ~= 0 then
    fresh = redis.call('SET', KEYS[seen], '1', 'NX', 'EX', ttl)
  end
  for _ = 1, nops do
    local nargs = tonumber(A[i])
    if fresh then
      local op = {}
      for a = 1, nargs do op[a] = A[i + a] end
      apply(op)
    end
    i = i + nargs + 1
  end
  results[e] = fresh and 1 or 0
  return i
end

local i = 1
local e = 0
while i <= #A do
  OPEN, RO, INDEX = KEYS[tonumber(A[i])], KEYS[tonumber(A[i + 1])], KEYS[tonumber(A[i + 2])]
  NS, WL = A[i + 3], A[i + 4]
  local n = tonumber(A[i + 5])
  i = i + 6
  for _ = 1, n do
    e = e + 1
    i = apply_event(i, e)
  end
end
for k in pairs(touched) do redis.call('EXPIRE', k, ttl) end
return { results, notes }
