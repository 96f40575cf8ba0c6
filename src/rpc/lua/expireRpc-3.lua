--[[
  expireRpc-3
  KEYS[1] agent's queue list, KEYS[2] requests hash, KEYS[3] expiries zset
  ARGV[1] id, ARGV[2] now (ms)
  Removes the request if still queued and due; returns its JSON or nil.
]]
local expiresAt = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not expiresAt or tonumber(expiresAt) > tonumber(ARGV[2]) then return nil end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('LREM', KEYS[1], 1, ARGV[1])
local json = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return json
