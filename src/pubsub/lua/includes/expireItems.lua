--[[
  expireItems (include): removes aged-out items from the front (oldest seq first) of a node.
  Returns the number of items removed and their bytes (as usage counts them).
]]
local function expireItems(itemsKey, dataKey, cutoff, limit)
  local removed, bytes = 0, 0
  for _ = 1, limit do
    local first = redis.call('ZRANGE', itemsKey, 0, 0)
    if #first == 0 then break end
    local rec = redis.call('HGET', dataKey, first[1])
    local t = 0
    if rec then t = tonumber(string.match(rec, '^%d+ (%d+) ')) or 0 end
    if t >= cutoff then break end
    redis.call('ZREM', itemsKey, first[1])
    if rec then
      redis.call('HDEL', dataKey, first[1])
      removed = removed + 1
      bytes = bytes + #first[1] + #rec
    end
  end
  return removed, bytes
end
