--[[
  trimItems (include): trims a node to its newest `max` items, in bounded chunks.
  Returns the number of items removed and their bytes (as usage counts them).
]]
local function trimItems(itemsKey, dataKey, max)
  local removed, bytes = 0, 0
  if max <= 0 then return 0, 0 end
  local n = redis.call('ZCARD', itemsKey)
  while n > max do
    local count = math.min(n - max, 1000)
    local old = redis.call('ZRANGE', itemsKey, 0, count - 1)
    for _, id in ipairs(old) do
      local len = redis.call('HSTRLEN', dataKey, id)
      if len > 0 then bytes = bytes + #id + len end
    end
    redis.call('ZREMRANGEBYRANK', itemsKey, 0, count - 1)
    removed = removed + redis.call('HDEL', dataKey, unpack(old))
    n = n - count
  end
  return removed, bytes
end
