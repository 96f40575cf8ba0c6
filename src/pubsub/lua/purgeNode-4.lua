--[[
  purgeNode-4
  KEYS: 1 node hash, 2 items, 3 item data, 4 deliver set
  ARGV: 1 key prefix
  The items no longer count against the node owner's quota (includes/usage.lua).
  Returns {deliver JIDs...} (possibly empty).
]]
--- @include "includes/usage"

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
releaseNode(KEYS[1], KEYS[3], ARGV[1], redis.call('HGET', KEYS[1], 'owner'))
redis.call('DEL', KEYS[2], KEYS[3])
local out = redis.call('SMEMBERS', KEYS[4])
table.insert(out, 1, 1)
return out
