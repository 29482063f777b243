-- The workload-gauge lease of collector replicas: taken when free (SET PX), renewed by its holder
-- (PEXPIRE), refused to anyone else. KEYS[1]: the lease. ARGV: 1 the replica's id, 2 ttl (ms).
-- Returns 1 when ARGV[1] holds the lease now, else 0.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
