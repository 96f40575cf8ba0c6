--[[
  publishItem-9
  KEYS: 1 node hash, 2 items zset, 3 item data hash, 4 affiliations, 5 subscriptions,
        6 deliver set, 7 ingest stream, 8 nodes zset, 9 agents zset
  ARGV: 1 node, 2 publisher bare, 3 publisher full, 4 item id, 5 payload, 6 now ms,
        7 agentSeq or '', 8 auto-create '1'/'0', 9 add to ingest '1'/'0', 10 owner bare
        (auto-create, ingest), 11 admin '1'/'0', 12 key prefix, 13 number of precondition
        pairs P, 14.. P field/value pairs, then default config field/value pairs (auto-create)
  Returns a negative code, or {nodeSeq, flag, deliver JIDs...}: flag 0 stored,
  1 a duplicate, 2 stored in a node this call created (auto-create); or
  {0, 3, highest agentSeq}: refused, the agent seq regressed.
  Idempotency by agentSeq (`<prefix>ps:aranges:<node>`, see includes/seqRanges.lua):
  an agentSeq already stored is a replay: it changes nothing and returns
  {0, 1}. One not stored is stored, even below the highest (publishes
  overtaking each other in flight), unless it is REORDER_SPAN or more below
  the highest: that is an agent whose seq went back (a reinstall with its
  clock behind, or after one stray huge seq), refused (flag 3) so that it
  re-seeds above the highest; never acknowledged without being stored.
  A node auto-created after a delete continues the deleted node's sequence
  (`<prefix>ps:seq-hw`), so the monitor's processedSeq stays valid.
]]
--- @include "includes/expireItems"
--- @include "includes/trimItems"
--- @include "includes/seqRanges"

local npre = tonumber(ARGV[13])
local created = 0
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then
  if ARGV[8] ~= '1' then return -1 end
  created = 2
  owner = ARGV[10]
  local hw = ARGV[12] .. 'ps:seq-hw'
  local fields = {'owner', owner, 'created', ARGV[6], 'seq', redis.call('HGET', hw, ARGV[1]) or '0', 'agentSeq', '0'}
  for i = 14 + 2 * npre, #ARGV do fields[#fields + 1] = ARGV[i] end
  local cfg = {}
  for i = 1, #fields, 2 do cfg[fields[i]] = fields[i + 1] end
  for i = 14, 13 + 2 * npre, 2 do
    if cfg[ARGV[i]] ~= ARGV[i + 1] then return -4 end
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('HDEL', hw, ARGV[1])
  redis.call('HSET', KEYS[4], owner, 'owner')
  redis.call('ZADD', KEYS[8], ARGV[6], ARGV[1])
  redis.call('ZADD', KEYS[9], ARGV[6], ARGV[1])
  redis.call('SADD', ARGV[12] .. 'ps:user-nodes:' .. owner, ARGV[1])
else
  if ARGV[11] ~= '1' then
    local aff = redis.call('HGET', KEYS[4], ARGV[2])
    if aff == 'outcast' then return -3 end
    if aff ~= 'owner' and aff ~= 'publisher' then
      local model = redis.call('HGET', KEYS[1], 'publish_model')
      if model == 'subscribers' then
        if redis.call('HEXISTS', KEYS[5], ARGV[3]) == 0 and redis.call('HEXISTS', KEYS[5], ARGV[2]) == 0 then
          return -2
        end
      elseif model ~= 'open' then
        return -2
      end
    end
  end
  for i = 14, 13 + 2 * npre, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return -4 end
  end
end
local conf = redis.call('HMGET', KEYS[1], 'agentSeq', 'max_items', 'persist_items', 'item_expire')
local REORDER_SPAN = ${AGENT_SEQ_REORDER_SPAN}
local aseq = tonumber(ARGV[7])
local high = tonumber(conf[1] or '0')
local ranges = ARGV[12] .. 'ps:aranges:' .. ARGV[1]
local prev
if aseq then
  migrateSeqs(ranges, ARGV[12] .. 'ps:aseqs:' .. ARGV[1])
  prev = rangeAtOrBelow(ranges, aseq)
  if prev and prev[2] >= aseq then return {0, 1} end
  if aseq <= high - REORDER_SPAN then return {0, 3, conf[1]} end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if aseq then
  if aseq > high then redis.call('HSET', KEYS[1], 'agentSeq', ARGV[7]) end
  addSeq(ranges, aseq, prev)
end
if conf[3] ~= '0' then
  redis.call('ZADD', KEYS[2], seq, ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], seq .. ' ' .. ARGV[6] .. ' ' .. ARGV[2] .. ' ' .. ARGV[5])
  trimItems(KEYS[2], KEYS[3], tonumber(conf[2] or '0'))
  local expire = tonumber(conf[4] or '0')
  if expire > 0 then expireItems(KEYS[2], KEYS[3], tonumber(ARGV[6]) - expire * 1000, 100) end
end
if ARGV[9] == '1' then
  redis.call('XADD', KEYS[7], '*', 'node', ARGV[1], 'owner', ARGV[10], 'nodeSeq', seq,
    'agentSeq', ARGV[7], 'itemId', ARGV[4], 'payload', ARGV[5], 'publishedAt', ARGV[6])
end
local out = redis.call('SMEMBERS', KEYS[6])
table.insert(out, 1, created)
table.insert(out, 1, seq)
return out
