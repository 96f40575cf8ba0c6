--[[
  claimDueRetries-2
  KEYS[1] due zset, KEYS[2] entry hash; ARGV[1] now, ARGV[2] lease end, ARGV[3] count.
  Returns the claimed entries' JSON (ids are inside).
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', KEYS[2], id)
  if entry then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    out[#out + 1] = entry
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
