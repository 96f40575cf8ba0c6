--[[
  createNode-5
  KEYS: 1 node hash, 2 affiliations, 3 nodes zset, 4 agents zset, 5 expiring set
  ARGV: 1 node, 2 owner bare, 3 now, 4 agent node '1'/'0', 5 key prefix,
        6 most nodes the owner may have created (0: no limit), 7.. config pairs
  `<prefix>ps:user-created:<owner>` holds the nodes a JID created (not its
  agents/<jid> node), so the quota check is one SCARD; deleteNode removes from it.
  `<prefix>ps:plain-nodes` (sorted by creation) lists the nodes that are not
  agent nodes: the service's disco#items for those who may not see the agents.
  A node created again after a delete continues its sequence (`ps:seq-hw`).
  `qbytes`: what its items cost its owner's quota (includes/usage.lua).
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return -5 end
local quota = tonumber(ARGV[6])
local created = ARGV[5] .. 'ps:user-created:' .. ARGV[2]
if ARGV[4] ~= '1' then
  if quota > 0 and redis.call('SCARD', created) >= quota then return -10 end
  redis.call('SADD', created, ARGV[1])
end
local hw = ARGV[5] .. 'ps:seq-hw'
local fields = {'owner', ARGV[2], 'created', ARGV[3], 'seq', redis.call('HGET', hw, ARGV[1]) or '0',
  'agentSeq', '0', 'qbytes', '0'}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HDEL', hw, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], 'owner')
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
else
  redis.call('ZADD', ARGV[5] .. 'ps:plain-nodes', ARGV[3], ARGV[1])
end
redis.call('SADD', ARGV[5] .. 'ps:user-nodes:' .. ARGV[2], ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'item_expire') or '0') > 0 then
  redis.call('SADD', KEYS[5], ARGV[1])
end
return 1
