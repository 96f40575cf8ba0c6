--[[
  trimItems (include): trims a node to its newest `max` items, in bounded chunks.
]]
local function trimItems(itemsKey, dataKey, max)
  if max <= 0 then return end
  local n = redis.call('ZCARD', itemsKey)
  while n > max do
    local count = math.min(n - max, 1000)
    local old = redis.call('ZRANGE', itemsKey, 0, count - 1)
    redis.call('ZREMRANGEBYRANK', itemsKey, 0, count - 1)
    redis.call('HDEL', dataKey, unpack(old))
    n = n - count
  end
end
