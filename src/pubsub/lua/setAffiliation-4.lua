--[[
  setAffiliation-4
  KEYS: 1 node hash, 2 affiliations, 3 subscriptions, 4 deliver set
  ARGV: 1 bare JID, 2 affiliation (owner|publisher|member|outcast|none), 3 node, 4 key prefix
  An outcast loses its subscriptions; the last owner cannot be removed.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current == 'owner' and ARGV[2] ~= 'owner' then
  local owners = 0
  local all = redis.call('HGETALL', KEYS[2])
  for i = 2, #all, 2 do if all[i] == 'owner' then owners = owners + 1 end end
  if owners <= 1 then return -9 end
end
if ARGV[2] == 'none' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SREM', ARGV[4] .. 'ps:user-nodes:' .. ARGV[1], ARGV[3])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('SADD', ARGV[4] .. 'ps:user-nodes:' .. ARGV[1], ARGV[3])
end
if ARGV[2] == 'outcast' then
  local bare = ARGV[1]
  for _, jid in ipairs(redis.call('HKEYS', KEYS[3])) do
    if jid == bare or string.sub(jid, 1, #bare + 1) == bare .. '/' then
      redis.call('HDEL', KEYS[3], jid)
      redis.call('SREM', KEYS[4], jid)
      redis.call('SREM', ARGV[4] .. 'ps:user-subs:' .. bare, ARGV[3] .. '\n' .. jid)
    end
  end
end
return 1
