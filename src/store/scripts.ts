/**
 * Lua scripts: one Redis state change is one script, so a change is atomic
 * and a single round trip. Named after BullMQ's convention, name-KEYCOUNT.
 */

/**
 * recordPresence-3
 * KEYS[1] host hash, KEYS[2] hosts zset, KEYS[3] changes channel
 * ARGV[1] bare JID, ARGV[2] full JID, ARGV[3] now (ms), ARGV[4..] field/value pairs
 * An available presence makes this full JID the host's current session.
 */
export const RECORD_PRESENCE = `
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
`;

/**
 * markOffline-3
 * KEYS[1] host hash, KEYS[2] hosts zset, KEYS[3] changes channel
 * ARGV[1] bare JID, ARGV[2] full JID or '' for any session, ARGV[3] now (ms), ARGV[4] reason
 * Returns 1 if the host went offline, 0 if it already was or the presence came
 * from an older session than the current one (a late unavailable after a
 * quick reconnect must not mark the new session down).
 */
export const MARK_OFFLINE = `
local current = redis.call('HMGET', KEYS[1], 'online', 'fullJid')
if current[1] ~= '1' then return 0 end
if ARGV[2] ~= '' and current[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'online', '0', 'lastSeen', ARGV[3], 'since', ARGV[3], 'offlineReason', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
`;

/**
 * markStaleOffline-3
 * KEYS[1] host hash, KEYS[2] hosts zset, KEYS[3] changes channel
 * ARGV[1] bare JID, ARGV[2] cutoff (ms), ARGV[3] now (ms), ARGV[4] reason
 * Offline only if still online and not seen since the cutoff.
 */
export const MARK_STALE_OFFLINE = `
local current = redis.call('HMGET', KEYS[1], 'online', 'lastSeen')
if current[1] ~= '1' then return 0 end
if tonumber(current[2] or '0') >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'online', '0', 'lastSeen', ARGV[3], 'since', ARGV[3], 'offlineReason', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
`;
