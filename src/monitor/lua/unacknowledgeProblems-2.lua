--[[
  unacknowledgeProblems-2
  KEYS: 1 open problems hash, 2 re-notification schedule
  ARGV: 1 when the next reminder is due (ms; '' when re-notification is
  disabled), 2 the re-notified kinds (comma-separated), 3.. the problem
  fields a withdrawn acknowledgement covered
  Their reminders resume, one interval from now, repeating the problem's
  latest alert: alerts dispatched while it was acknowledged (a worse state,
  or a problem that began acknowledged) were never notified.
  Returns how many were acknowledged.
]]
local kinds = ',' .. ARGV[2] .. ','
local count = 0
for i = 3, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local problem = raw and cjson.decode(raw)
  if problem and problem.acknowledged then
    problem.acknowledged = false
    local latest = problem.alert
    if latest and not latest.renotify and string.find(kinds, ',' .. tostring(latest.kind) .. ',', 1, true) then
      problem.notified = latest
      problem.count = 0
    end
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(problem))
    if problem.notified and ARGV[1] ~= '' then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i]) end
    count = count + 1
  end
end
return count
