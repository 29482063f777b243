-- Closes a workload's open rollout when it has been quiet for longer than ARGV[2] ms at ARGV[1]
-- (ms), as timed out at its last activity. KEYS: 1 the workload's open-rollout string, 2 its
-- rollouts hash (fields `<id>|<name>`), both in the workload's slot. Returns the ids closed.
local open_key, ro = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local quiet = tonumber(ARGV[2])
local id = redis.call('GET', open_key)
if not id then return {} end
local la = tonumber(redis.call('HGET', ro, id .. '|lastActivity'))
if la and now - la > quiet then
  redis.call('HSET', ro, id .. '|finishedAt', la, id .. '|outcome', 'timeout')
  redis.call('DEL', open_key)
  return { id }
end
return {}
