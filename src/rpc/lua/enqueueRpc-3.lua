--[[
  enqueueRpc-3
  KEYS[1] agent's queue list, KEYS[2] requests hash, KEYS[3] expiries zset
  ARGV[1] id, ARGV[2] JSON, ARGV[3] expiresAt (ms), ARGV[4] max queue length
]]
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return redis.call('RPUSH', KEYS[1], ARGV[1])
