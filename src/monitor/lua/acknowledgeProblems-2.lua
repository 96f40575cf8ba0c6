--[[
  acknowledgeProblems-2
  KEYS: 1 open problems hash, 2 re-notification schedule
  ARGV: the problem fields an acknowledgement covers
  Marks the open ones acknowledged and unschedules them (they stay listed).
  Returns how many were open.
]]
local open = 0
for _, field in ipairs(ARGV) do
  redis.call('ZREM', KEYS[2], field)
  local raw = redis.call('HGET', KEYS[1], field)
  if raw then
    local problem = cjson.decode(raw)
    problem.acknowledged = true
    redis.call('HSET', KEYS[1], field, cjson.encode(problem))
    open = open + 1
  end
end
return open
