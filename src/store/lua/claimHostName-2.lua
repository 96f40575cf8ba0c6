--[[
  claimHostName-2
  KEYS[1] host names hash (name → bare JID), KEYS[2] the claimant's host hash
  ARGV[1] bare JID, ARGV[2] host name (lower case)
  A host name is bound to the first JID that claims it. Returns 1 if the name
  is (now) this JID's, releasing the name it had before; 0 if another JID holds it.
]]
local holder = redis.call('HGET', KEYS[1], ARGV[2])
if holder and holder ~= ARGV[1] then return 0 end
if not holder then redis.call('HSET', KEYS[1], ARGV[2], ARGV[1]) end
local old = string.lower(redis.call('HGET', KEYS[2], 'host') or '')
if old ~= '' and old ~= ARGV[2] and redis.call('HGET', KEYS[1], old) == ARGV[1] then
  redis.call('HDEL', KEYS[1], old)
end
return 1
