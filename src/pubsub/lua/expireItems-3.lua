--[[
  expireItems-3
  KEYS: 1 node hash, 2 items, 3 item data
  ARGV: 1 now ms, 2 key prefix
  Returns the number of aged-out items removed (at most 1000 per call); they no
  longer count against the node owner's quota (includes/usage.lua).
]]
--- @include "includes/usage"
--- @include "includes/expireItems"

local expire = tonumber(redis.call('HGET', KEYS[1], 'item_expire') or '0')
if expire <= 0 then return 0 end
local owner = redis.call('HGET', KEYS[1], 'owner')
countNode(KEYS[1], KEYS[3], ARGV[2], owner)
local n, bytes = expireItems(KEYS[2], KEYS[3], tonumber(ARGV[1]) - expire * 1000, 1000)
charge(KEYS[1], ARGV[2], owner, -n, -bytes)
return n
