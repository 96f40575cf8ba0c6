--[[
  leaseAcquire-1
  KEYS[1] lease key; ARGV[1] instance id, ARGV[2] ttl (ms)
  Returns 1 renewed (already ours), 2 acquired, 0 held by another instance.
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
