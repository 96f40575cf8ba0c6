--[[
  liveAlert-2
  KEYS[1] host hash, KEYS[2] alert outbox
  ARGV[1] 'down' or 'up', ARGV[2] outbox max length, ARGV[3..] alert fields
  A down alert once per outage; an up (recovery) alert only after a down alert.
  Returns 1 if an alert was added.
]]
local flagged = redis.call('HGET', KEYS[1], 'liveAlert')
if ARGV[1] == 'down' then
  if flagged == 'down' then return 0 end
  redis.call('HSET', KEYS[1], 'liveAlert', 'down')
else
  if flagged ~= 'down' then return 0 end
  redis.call('HDEL', KEYS[1], 'liveAlert')
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
return 1
