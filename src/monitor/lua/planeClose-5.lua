--[[
  planeClose-5: a cause of the plane incident is over.
  KEYS[1] causes hash, KEYS[2] incident hash, KEYS[3] alert outbox, KEYS[4] grace-until,
  ARGV[1] member (may be "" to only prune), ARGV[2] now (ms), ARGV[3] outbox MAXLEN,
  ARGV[4] grace (ms), ARGV[5] heartbeat age that counts as dead (ms), ARGV[6..] the
  recovered alert's fields; KEYS[5] heartbeats hash (instance → last beat).
  Causes held by processes that died ("link|<id>", "restart|<id>" whose
  heartbeat is missing or older than ARGV[5]) are dropped. When none is left the incident ends: the grace runs
  from now and the one recovered alert is raised, its check set to the cause
  that opened the incident. Returns 1 if it raised it.
]]
if ARGV[1] ~= '' then redis.call('HDEL', KEYS[1], ARGV[1]) end
for _, m in ipairs(redis.call('HKEYS', KEYS[1])) do
  local inst = string.match(m, '^%a+|(.+)$')
  if inst then
    local beat = tonumber(redis.call('HGET', KEYS[5], inst) or '0') or 0
    if beat < tonumber(ARGV[2]) - tonumber(ARGV[5]) then redis.call('HDEL', KEYS[1], m) end
  end
end
if redis.call('HLEN', KEYS[1]) > 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
-- The recovery names the cause the degraded alert named: it closes that problem.
local opened = redis.call('HGET', KEYS[2], 'cause') or ''
local cause = string.match(opened, '^(%a+)') or opened
redis.call('DEL', KEYS[2])
local untilMs = tonumber(ARGV[2]) + tonumber(ARGV[4])
local current = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
if untilMs > current then redis.call('SET', KEYS[4], tostring(untilMs)) end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
for i = 1, #fields - 1, 2 do
  if fields[i] == 'check' then fields[i + 1] = cause end
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
return 1
