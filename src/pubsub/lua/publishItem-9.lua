--[[
  publishItem-9
  KEYS: 1 node hash, 2 items zset, 3 item data hash, 4 affiliations, 5 subscriptions,
        6 deliver set, 7 ingest stream, 8 nodes zset, 9 agents zset
  ARGV: 1 node, 2 publisher bare, 3 publisher full, 4 item id, 5 payload, 6 now ms,
        7 agentSeq or '', 8 auto-create '1'/'0', 9 add to ingest '1'/'0', 10 owner bare
        (auto-create, ingest), 11 admin '1'/'0', 12 key prefix, 13 most items an owner
        may store (0: no limit), 14 most bytes (0: no limit), 15 owners without a quota
        ('\n' before and after each bare JID), 16 number of precondition pairs P,
        17.. P field/value pairs, then default config field/value pairs (auto-create)
  Returns a negative code, or {nodeSeq, flag, deliver JIDs...}: flag 0 stored,
  1 a duplicate, 2 stored in a node this call created (auto-create); or
  {0, 3, highest agentSeq}: refused, the agent seq regressed.
  Everything is decided before anything is written (a refused publish creates
  no node and records no seq), except the removal of aged-out items.
  Idempotency by agentSeq (`<prefix>ps:aranges:<node>`, see includes/seqRanges.lua):
  an agentSeq already stored is a replay: it changes nothing and returns
  {0, 1}. One not stored is stored, even below the highest (publishes
  overtaking each other in flight), unless it is REORDER_SPAN or more below
  the highest: that is an agent whose seq went back (a reinstall with its
  clock behind, or after one stray huge seq), refused (flag 3) so that it
  re-seeds above the highest; never acknowledged without being stored.
  A node auto-created after a delete continues the deleted node's sequence
  (`<prefix>ps:seq-hw`), so the monitor's processedSeq stays valid.
  Quota (includes/usage.lua): a publish that would take the node owner's
  stored items over ARGV 13 returns -13, its bytes over ARGV 14 -14. What
  counts is what the publish adds, less the item it replaces (same id) and
  the oldest ones max_items drops, so a full node of steady-size items never
  hits it.
]]
--- @include "includes/usage"
--- @include "includes/expireItems"
--- @include "includes/trimItems"
--- @include "includes/seqRanges"

local PAIRS = 17
local npre = tonumber(ARGV[16])
local prefix = ARGV[12]
local created = 0
local owner = redis.call('HGET', KEYS[1], 'owner')
-- The hash of the node this publish creates (auto-create), written only once admitted.
local fields
local conf
if not owner then
  if ARGV[8] ~= '1' then return -1 end
  created = 2
  owner = ARGV[10]
  fields = {'owner', owner, 'created', ARGV[6],
    'seq', redis.call('HGET', prefix .. 'ps:seq-hw', ARGV[1]) or '0', 'agentSeq', '0', 'qbytes', '0'}
  for i = PAIRS + 2 * npre, #ARGV do fields[#fields + 1] = ARGV[i] end
  local cfg = {}
  for i = 1, #fields, 2 do cfg[fields[i]] = fields[i + 1] end
  for i = PAIRS, PAIRS - 1 + 2 * npre, 2 do
    if cfg[ARGV[i]] ~= ARGV[i + 1] then return -4 end
  end
  conf = {cfg['agentSeq'], cfg['max_items'], cfg['persist_items'], cfg['item_expire'], cfg['seq']}
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
  for i = PAIRS, PAIRS - 1 + 2 * npre, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return -4 end
  end
  conf = redis.call('HMGET', KEYS[1], 'agentSeq', 'max_items', 'persist_items', 'item_expire', 'seq')
end
local REORDER_SPAN = ${AGENT_SEQ_REORDER_SPAN}
local aseq = tonumber(ARGV[7])
local high = tonumber(conf[1] or '0')
local ranges = prefix .. 'ps:aranges:' .. ARGV[1]
local prev
if aseq then
  migrateSeqs(ranges, prefix .. 'ps:aseqs:' .. ARGV[1])
  prev = rangeAtOrBelow(ranges, aseq)
  if prev and prev[2] >= aseq then return {0, 1} end
  if aseq <= high - REORDER_SPAN then return {0, 3, conf[1]} end
end

local seq = tonumber(conf[5] or '0') + 1
local persist = conf[3] ~= '0'
local max = tonumber(conf[2] or '0')
local rec = seq .. ' ' .. ARGV[6] .. ' ' .. ARGV[2] .. ' ' .. ARGV[5]

-- What storing `rec` adds to the owner's usage (items, bytes), as trimming will leave it.
local function growth()
  local items, bytes = 1, #ARGV[4] + #rec
  local replaced = itemBytes(KEYS[3], ARGV[4])
  if replaced > 0 then items, bytes = 0, bytes - replaced end
  local excess = redis.call('HLEN', KEYS[3]) + items - max
  if max > 0 and excess > 0 then
    for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
      if old ~= ARGV[4] then items, bytes = items - 1, bytes - itemBytes(KEYS[3], old) end
    end
  end
  return items, bytes
end

-- -13 / -14 if the growth takes the owner over its quota; owners listed in ARGV 15 have none.
local function overQuota(items, bytes)
  local maxItems, maxBytes = tonumber(ARGV[13]), tonumber(ARGV[14])
  if maxItems <= 0 and maxBytes <= 0 then return nil end
  if string.find(ARGV[15], '\n' .. owner .. '\n', 1, true) then return nil end
  local used = redis.call('HMGET', usageKey(prefix, owner), 'items', 'bytes')
  if maxItems > 0 and items > 0 and tonumber(used[1] or '0') + items > maxItems then return -13 end
  if maxBytes > 0 and bytes > 0 and tonumber(used[2] or '0') + bytes > maxBytes then return -14 end
  return nil
end

if persist and not fields then
  countNode(KEYS[1], KEYS[3], prefix, owner)
  -- Aged-out items go first: they are not the owner's any more.
  local expire = tonumber(conf[4] or '0')
  if expire > 0 then
    local n, b = expireItems(KEYS[2], KEYS[3], tonumber(ARGV[6]) - expire * 1000, 100)
    charge(KEYS[1], prefix, owner, -n, -b)
  end
end
if persist then
  local refused = overQuota(growth())
  if refused then return refused end
end

-- Admitted: from here on, write.
if fields then
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('HDEL', prefix .. 'ps:seq-hw', ARGV[1])
  redis.call('HSET', KEYS[4], owner, 'owner')
  redis.call('ZADD', KEYS[8], ARGV[6], ARGV[1])
  redis.call('ZADD', KEYS[9], ARGV[6], ARGV[1])
  redis.call('SADD', prefix .. 'ps:user-nodes:' .. owner, ARGV[1])
end
redis.call('HSET', KEYS[1], 'seq', seq)
if aseq then
  if aseq > high then redis.call('HSET', KEYS[1], 'agentSeq', ARGV[7]) end
  addSeq(ranges, aseq, prev)
end
if persist then
  local items, bytes = 1, #ARGV[4] + #rec
  local replaced = itemBytes(KEYS[3], ARGV[4])
  if replaced > 0 then items, bytes = 0, bytes - replaced end
  redis.call('ZADD', KEYS[2], seq, ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], rec)
  local n, b = trimItems(KEYS[2], KEYS[3], max)
  charge(KEYS[1], prefix, owner, items - n, bytes - b)
end
if ARGV[9] == '1' then
  redis.call('XADD', KEYS[7], '*', 'node', ARGV[1], 'owner', ARGV[10], 'nodeSeq', seq,
    'agentSeq', ARGV[7], 'itemId', ARGV[4], 'payload', ARGV[5], 'publishedAt', ARGV[6])
end
local out = redis.call('SMEMBERS', KEYS[6])
table.insert(out, 1, created)
table.insert(out, 1, seq)
return out
