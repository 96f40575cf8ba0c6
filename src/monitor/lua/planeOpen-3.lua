--[[
  planeOpen-3: a cause of a monitoring-plane incident begins.
  KEYS[1] causes hash, KEYS[2] incident hash, KEYS[3] alert outbox
  ARGV[1] member ("link|<instance>", "mass", ...), ARGV[2] now (ms),
  ARGV[3] outbox MAXLEN, ARGV[4] incident id, ARGV[5..] the degraded alert's fields.
  Only the first cause of an incident raises the alert (one per event, however
  many processes see it); later ones join it. Returns 1 if it raised the alert.
]]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'id', ARGV[4], 'since', ARGV[2], 'cause', ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 5))
return 1
