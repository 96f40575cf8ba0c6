--[[
  removeSubscription-4
  KEYS: 1 node hash, 2 subscriptions, 3 deliver set, 4 subscriber's user-subs set
  ARGV: 1 subscriber JID, 2 node
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return -8 end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[2] .. '\n' .. ARGV[1])
return 1
