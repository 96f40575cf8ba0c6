--[[
  deleteNode-9
  KEYS: 1 node hash, 2 items, 3 item data, 4 affiliations, 5 subscriptions, 6 deliver set,
        7 nodes zset, 8 agents zset, 9 expiring set
  ARGV: 1 node, 2 key prefix
  Returns {notify_delete, deliver JIDs...}.
  An agent node's sequence is kept (`ps:seq-hw`, node → last seq) for a node
  of the same name created later: its items continue the sequence instead of
  starting at 1 again, which the monitor (processedSeq per agent) would take
  for items it has processed. Only agent nodes (one per agent, so the hash is
  bounded): other names may be made up without end. The agent seqs it stored
  are forgotten with it, and its items no longer count against its owner's
  quota (includes/usage.lua).
]]
--- @include "includes/usage"

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if string.sub(ARGV[1], 1, 7) == 'agents/' then
  redis.call('HSET', ARGV[2] .. 'ps:seq-hw', ARGV[1], redis.call('HGET', KEYS[1], 'seq') or '0')
end
local out = redis.call('SMEMBERS', KEYS[6])
table.insert(out, 1, redis.call('HGET', KEYS[1], 'notify_delete') or '1')
local creator = redis.call('HGET', KEYS[1], 'owner')
releaseNode(KEYS[1], KEYS[3], ARGV[2], creator)
if creator then redis.call('SREM', ARGV[2] .. 'ps:user-created:' .. creator, ARGV[1]) end
for _, jid in ipairs(redis.call('HKEYS', KEYS[5])) do
  local bare = string.match(jid, '^[^/]+')
  redis.call('SREM', ARGV[2] .. 'ps:user-subs:' .. bare, ARGV[1] .. '\n' .. jid)
end
for _, bare in ipairs(redis.call('HKEYS', KEYS[4])) do
  redis.call('SREM', ARGV[2] .. 'ps:user-nodes:' .. bare, ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6],
  ARGV[2] .. 'ps:aseqs:' .. ARGV[1], ARGV[2] .. 'ps:aranges:' .. ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('ZREM', ARGV[2] .. 'ps:plain-nodes', ARGV[1])
redis.call('SREM', KEYS[9], ARGV[1])
return out
