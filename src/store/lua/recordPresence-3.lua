--[[
  recordPresence-3
  KEYS[1] host hash, KEYS[2] hosts zset, KEYS[3] changes channel
  ARGV[1] bare JID, ARGV[2] full JID, ARGV[3] now (ms), ARGV[4..] field/value pairs
  An available presence makes this full JID the host's current session.
]]
local wasOnline = redis.call('HGET', KEYS[1], 'online')
local fields = {'jid', ARGV[1], 'fullJid', ARGV[2], 'online', '1', 'lastSeen', ARGV[3], 'offlineReason', ''}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
if wasOnline ~= '1' then
  fields[#fields + 1] = 'since'
  fields[#fields + 1] = ARGV[3]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
if wasOnline == '1' then return 0 end
return 1
