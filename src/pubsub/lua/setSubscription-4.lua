--[[
  setSubscription-4
  KEYS: 1 node hash, 2 subscriptions, 3 deliver set, 4 subscriber's user-subs set
  ARGV: 1 subscriber JID, 2 state (subscribed|pending), 3 subid, 4 deliver '1'/'0', 5 node,
        6 most subscriptions on the node, 7 most subscriptions of the subscriber's bare JID
        (0: no limit; checked only for a new subscription)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  local perNode = tonumber(ARGV[6] or '0')
  local perJid = tonumber(ARGV[7] or '0')
  if perNode > 0 and redis.call('HLEN', KEYS[2]) >= perNode then return -11 end
  if perJid > 0 and redis.call('SCARD', KEYS[4]) >= perJid then return -12 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
if ARGV[2] == 'subscribed' and ARGV[4] == '1' then
  redis.call('SADD', KEYS[3], ARGV[1])
else
  redis.call('SREM', KEYS[3], ARGV[1])
end
redis.call('SADD', KEYS[4], ARGV[5] .. '\n' .. ARGV[1])
return 1
