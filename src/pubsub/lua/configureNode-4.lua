--[[
  configureNode-4
  KEYS: 1 node hash, 2 items zset, 3 item data hash, 4 expiring set
  ARGV: 1 node, 2 key prefix, 3.. config pairs
  Applies the configuration and what it implies at once: fewer max_items trims,
  persist_items off drops stored items, item_expire enrols the node in the sweep.
  Items dropped no longer count against the node owner's quota (includes/usage.lua).
]]
--- @include "includes/usage"
--- @include "includes/trimItems"

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
local owner = redis.call('HGET', KEYS[1], 'owner')
local conf = redis.call('HMGET', KEYS[1], 'max_items', 'persist_items', 'item_expire')
if conf[2] == '0' then
  releaseNode(KEYS[1], KEYS[3], ARGV[2], owner)
  redis.call('DEL', KEYS[2], KEYS[3])
else
  countNode(KEYS[1], KEYS[3], ARGV[2], owner)
  local n, bytes = trimItems(KEYS[2], KEYS[3], tonumber(conf[1] or '0'))
  charge(KEYS[1], ARGV[2], owner, -n, -bytes)
end
if tonumber(conf[3] or '0') > 0 then
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
return 1
