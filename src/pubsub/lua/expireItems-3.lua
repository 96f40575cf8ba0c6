--[[
  expireItems-3
  KEYS: 1 node hash, 2 items, 3 item data
  ARGV: 1 now ms
  Returns the number of aged-out items removed (at most 1000 per call).
]]
--- @include "includes/expireItems"

local expire = tonumber(redis.call('HGET', KEYS[1], 'item_expire') or '0')
if expire <= 0 then return 0 end
return expireItems(KEYS[2], KEYS[3], tonumber(ARGV[1]) - expire * 1000, 1000)
