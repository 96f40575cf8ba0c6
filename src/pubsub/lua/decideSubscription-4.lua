--[[
  decideSubscription-4
  KEYS: 1 node hash, 2 subscriptions, 3 deliver set, 4 subscriber's user-subs set
  ARGV: 1 subscriber JID, 2 subid, 3 allow '1'/'0', 4 node
  An owner's answer to a pending subscription (§8.6), applied once: allow
  subscribes it, deny removes it. Returns 1 if decided now, 0 if it is not
  pending with that subid (another answer came first), -1 if there is no node.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local state, subid, deliver = string.match(rec, '^(%S+) (%S*) ?(%S*)$')
if state ~= 'pending' or subid ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], 'subscribed ' .. subid .. ' ' .. deliver)
  if deliver ~= '0' then redis.call('SADD', KEYS[3], ARGV[1]) end
else
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[1])
  redis.call('SREM', KEYS[4], ARGV[4] .. '\n' .. ARGV[1])
end
return 1
