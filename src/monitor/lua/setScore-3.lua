--[[
  setScore-3
  KEYS[1] host hash, KEYS[2] alert outbox, KEYS[3] host changes channel (the
  status page follows it; the JID is the host key's tail)
  ARGV[1] score, ARGV[2] state, ARGV[3] breakdown JSON, ARGV[4] now, ARGV[5] outbox max length,
  ARGV[6..] alert fields (field/value pairs) for a score alert
  Stores the score. While the host is online, a state different from the last
  one alerted (ok when none) adds a score alert with 'previous'; an offline
  host has its own down alert, so its score changes alert nobody, and coming
  back to the state it had before is no news either.
  Returns the previous alerted state if an alert was added, else ''.
]]
redis.call('HSET', KEYS[1], 'score', ARGV[1], 'scoreState', ARGV[2], 'scoreBreakdown', ARGV[3], 'scoredAt', ARGV[4])
-- A JID has no ':' (nodeprep forbids it), so the last 'host:' starts it.
redis.call('PUBLISH', KEYS[3], string.match(KEYS[1], '.*host:(.*)$'))
if redis.call('HGET', KEYS[1], 'online') ~= '1' then return '' end
local old = redis.call('HGET', KEYS[1], 'scoreAlerted')
if old == false then old = 'ok' end
if old == ARGV[2] then return '' end
redis.call('HSET', KEYS[1], 'scoreAlerted', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'previous', old, 'state', ARGV[2], unpack(ARGV, 6))
return old
