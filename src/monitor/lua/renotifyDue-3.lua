--[[
  renotifyDue-3
  KEYS: 1 re-notification schedule, 2 open problems hash, 3 alert outbox
  ARGV: 1 now (ms), 2 interval (ms), 3 outbox MAXLEN, 4 most problems per call
  Claims the due problems, moves each on by one interval and writes its
  reminder (the `notified` alert again, id "<its id>-r<n>") to the outbox, in
  one step: each reminder is written once however many instances call this.
  A closed or acknowledged problem leaves the schedule instead.
  Returns the number of reminders written.
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local written = 0
for _, field in ipairs(due) do
  local raw = redis.call('HGET', KEYS[2], field)
  local problem = raw and cjson.decode(raw)
  if not problem or problem.acknowledged or not problem.notified then
    redis.call('ZREM', KEYS[1], field)
  else
    local n = (tonumber(problem.count) or 0) + 1
    problem.count = n
    redis.call('HSET', KEYS[2], field, cjson.encode(problem))
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), field)
    local a = problem.notified
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*',
      'id', a.id .. '-r' .. n, 'kind', a.kind, 'jid', a.jid, 'host', a.host,
      'check', a.check, 'state', a.state, 'previous', a.previous, 'text', a.text,
      'time', ARGV[1], 'renotify', tostring(n), 'since', tostring(a.time))
    written = written + 1
  end
end
return written
