--[[
  purgeNode-4
  KEYS: 1 node hash, 2 items, 3 item data, 4 deliver set
  Returns {deliver JIDs...} (possibly empty).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('DEL', KEYS[2], KEYS[3])
local out = redis.call('SMEMBERS', KEYS[4])
table.insert(out, 1, 1)
return out
