-- Closes the open rollouts quiet for longer than ARGV[3] ms at ARGV[2] (ms), as timed out at
-- their last activity. KEYS[1]: the open-rollout hash. ARGV[1]: the rollout key prefix.
-- Returns the ids closed.
local open_key = KEYS[1]
local rollout_prefix = ARGV[1]
local now = tonumber(ARGV[2])
local quiet = tonumber(ARGV[3])
local open = redis.call('HGETALL', open_key)
local closed = {}
for i = 1, #open, 2 do
  local wk, id = open[i], open[i + 1]
  local k = rollout_prefix .. encode_key_part(id)
  local la = tonumber(redis.call('HGET', k, 'lastActivity'))
  if la and now - la > quiet then
    redis.call('HSET', k, 'finishedAt', la, 'outcome', 'timeout')
    redis.call('HDEL', open_key, wk)
    table.insert(closed, id)
  end
end
return closed
