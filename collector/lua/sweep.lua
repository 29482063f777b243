-- Closes a workload's open rollout when it has been quiet for longer than ARGV[2] ms at ARGV[1]
-- (ms), as timed out at its last activity. KEYS: 1 the workload's open-rollout string, 2 its
-- rollouts hash (fields `<id>|<name>`), both in the workload's slot.
-- Returns { 'closed', id }, or { 'open', last activity (ms) } for a rollout not quiet long enough
-- (the collector schedules its next sweep from it), or {} when none is open.
local open_key, ro = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local quiet = tonumber(ARGV[2])
local id = redis.call('GET', open_key)
if not id then return {} end
local raw = redis.call('HGET', ro, id .. '|lastActivity')
local la = tonumber(raw)
if la and now - la > quiet then
  redis.call('HSET', ro, id .. '|finishedAt', raw, id .. '|outcome', 'timeout')
  redis.call('DEL', open_key)
  return { 'closed', id }
end
if la then return { 'open', raw } end
return {}
