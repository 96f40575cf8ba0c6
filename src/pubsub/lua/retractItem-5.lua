--[[
  retractItem-5
  KEYS: 1 node hash, 2 items, 3 item data, 4 affiliations, 5 deliver set
  ARGV: 1 item id, 2 requester bare, 3 admin '1'/'0', 4 key prefix
  Owners and publishers retract any item; others only their own. The item no
  longer counts against the node owner's quota (includes/usage.lua).
  Returns {notify_retract, deliver JIDs...}.
]]
--- @include "includes/usage"

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then return -6 end
if ARGV[3] ~= '1' then
  local aff = redis.call('HGET', KEYS[4], ARGV[2])
  if aff == 'outcast' then return -3 end
  if aff ~= 'owner' and aff ~= 'publisher' then
    if string.match(rec, '^%d+ %d+ (%S+) ') ~= ARGV[2] then return -7 end
  end
end
local owner = redis.call('HGET', KEYS[1], 'owner')
countNode(KEYS[1], KEYS[3], ARGV[4], owner)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
charge(KEYS[1], ARGV[4], owner, -1, -(#ARGV[1] + #rec))
local out = redis.call('SMEMBERS', KEYS[5])
table.insert(out, 1, redis.call('HGET', KEYS[1], 'notify_retract') or '1')
return out
