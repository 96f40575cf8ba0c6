--[[
  groupAdd-3
  KEYS: groups zset, group list, last-sent hash. ARGV: group, alert JSON, now, wait, interval.
]]
redis.call('RPUSH', KEYS[2], ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local due = tonumber(ARGV[3]) + tonumber(ARGV[4])
  local last = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
  if last > 0 and last + tonumber(ARGV[5]) > due then due = last + tonumber(ARGV[5]) end
  redis.call('ZADD', KEYS[1], due, ARGV[1])
end
return 1
