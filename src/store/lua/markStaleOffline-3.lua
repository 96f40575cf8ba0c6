--[[
  markStaleOffline-3
  KEYS[1] host hash, KEYS[2] hosts zset, KEYS[3] changes channel
  ARGV[1] bare JID, ARGV[2] cutoff (ms), ARGV[3] now (ms), ARGV[4] reason
  Offline only if still online and not seen since the cutoff.
]]
local current = redis.call('HMGET', KEYS[1], 'online', 'lastSeen')
if current[1] ~= '1' then return 0 end
if tonumber(current[2] or '0') >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'online', '0', 'lastSeen', ARGV[3], 'since', ARGV[3], 'offlineReason', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
