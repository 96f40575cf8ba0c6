--[[
  markOffline-3
  KEYS[1] host hash, KEYS[2] hosts zset, KEYS[3] changes channel
  ARGV[1] bare JID, ARGV[2] full JID or '' for any session, ARGV[3] now (ms), ARGV[4] reason
  Returns 1 if the host went offline, 0 if it already was or the presence came
  from an older session than the current one (a late unavailable after a
  quick reconnect must not mark the new session down).
]]
local current = redis.call('HMGET', KEYS[1], 'online', 'fullJid')
if current[1] ~= '1' then return 0 end
if ARGV[2] ~= '' and current[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'online', '0', 'lastSeen', ARGV[3], 'since', ARGV[3], 'offlineReason', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
