--[[
  groupTakeDue-2
  KEYS: groups zset, last-sent hash. ARGV: now, max groups, list key prefix.
  The lists' keys are derived from the group keys (single Redis, not cluster).
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, g in ipairs(due) do
  local k = ARGV[3] .. g
  out[#out + 1] = g
  out[#out + 1] = redis.call('LRANGE', k, 0, -1)
  redis.call('DEL', k)
  redis.call('ZREM', KEYS[1], g)
  redis.call('HSET', KEYS[2], g, ARGV[1])
end
return out
