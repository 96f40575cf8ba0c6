--[[
  recordProblem-2
  KEYS: 1 open problems hash, 2 re-notification schedule
  ARGV: 1 problem field, 2 the latest alert (JSON) or '' to close the problem,
  3 the alert's time (ms), 4 what it changes for reminders: 'renotify' (a
  first notification: reminders repeat it from now on), 'acknowledge' (no
  more reminders) or 'keep', 5 with 'renotify', when the first reminder is
  due (ms; '' when re-notification is disabled)
  Returns 1 if changed.
]]
local field = ARGV[1]
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], field)
  return redis.call('HDEL', KEYS[1], field)
end
local raw = redis.call('HGET', KEYS[1], field)
local problem = raw and cjson.decode(raw) or {since = tonumber(ARGV[3]), count = 0, acknowledged = false}
problem.alert = cjson.decode(ARGV[2])
if ARGV[4] == 'renotify' then
  problem.notified = problem.alert
  problem.count = 0
  problem.acknowledged = false
  if ARGV[5] ~= '' then redis.call('ZADD', KEYS[2], ARGV[5], field) end
elseif ARGV[4] == 'acknowledge' then
  problem.acknowledged = true
  redis.call('ZREM', KEYS[2], field)
end
redis.call('HSET', KEYS[1], field, cjson.encode(problem))
return 1
