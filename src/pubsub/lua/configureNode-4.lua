--[[
  configureNode-4
  KEYS: 1 node hash, 2 items zset, 3 item data hash, 4 expiring set
  ARGV: 1 node, 2.. config pairs
  Applies the configuration and what it implies at once: fewer max_items trims,
  persist_items off drops stored items, item_expire enrols the node in the sweep.
]]
--- @include "includes/trimItems"

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
local conf = redis.call('HMGET', KEYS[1], 'max_items', 'persist_items', 'item_expire')
if conf[2] == '0' then
  redis.call('DEL', KEYS[2], KEYS[3])
else
  trimItems(KEYS[2], KEYS[3], tonumber(conf[1] or '0'))
end
if tonumber(conf[3] or '0') > 0 then
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
return 1
