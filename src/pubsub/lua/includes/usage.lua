--[[
  usage (include): the per-owner quota's accounting (docs/security.md, "Items").
  `<prefix>ps:usage:<owner>` (hash: items, bytes) is what the stored items of
  every node `owner` owns cost, `owner` being the node hash's (its creator; an
  agent for its agents/<jid> node). The node hash's `qbytes` is its own items'
  bytes (their number is the data hash's HLEN), so a purge or delete releases
  a node in O(1). An item costs the bytes of its id and of its record.
  A node an older jabmon stored has no `qbytes`: countNode counts its items
  the first time a script touches it.
]]
local function usageKey(prefix, owner) return prefix .. 'ps:usage:' .. owner end

-- The bytes one stored item costs; 0 if it is not stored.
local function itemBytes(dataKey, id)
  local n = redis.call('HSTRLEN', dataKey, id)
  if n == 0 then return 0 end
  return #id + n
end

-- Adds `items` and `bytes` (negative: releases them) to a node and its owner.
local function charge(nodeKey, prefix, owner, items, bytes)
  if items == 0 and bytes == 0 then return end
  redis.call('HINCRBY', nodeKey, 'qbytes', bytes)
  if not owner then return end
  local key = usageKey(prefix, owner)
  local left = redis.call('HINCRBY', key, 'items', items)
  redis.call('HINCRBY', key, 'bytes', bytes)
  -- An owner with nothing stored keeps no key, so no drift outlives its items.
  if left <= 0 then redis.call('DEL', key) end
end

-- Once per node stored by an older jabmon: its items become its owner's usage.
local function countNode(nodeKey, dataKey, prefix, owner)
  if redis.call('HEXISTS', nodeKey, 'qbytes') == 1 then return end
  local ids = redis.call('HKEYS', dataKey)
  local bytes = 0
  for _, id in ipairs(ids) do bytes = bytes + itemBytes(dataKey, id) end
  redis.call('HSET', nodeKey, 'qbytes', 0)
  charge(nodeKey, prefix, owner, #ids, bytes)
end

-- Releases every item of a node (purge, delete): returns nothing.
local function releaseNode(nodeKey, dataKey, prefix, owner)
  countNode(nodeKey, dataKey, prefix, owner)
  local bytes = tonumber(redis.call('HGET', nodeKey, 'qbytes') or '0')
  charge(nodeKey, prefix, owner, -redis.call('HLEN', dataKey), -bytes)
end
