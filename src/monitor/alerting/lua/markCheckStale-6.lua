--[[
  markCheckStale-6
  KEYS: fresh zset, check hash, checks hash, host hash, outbox, changes channel.
  ARGV: member, now, check, jid, alert id, outbox max, output.
  Only still due (no result since) and only for an online host (a host down alerts as such).
  The check becomes hard unknown, and the host's tally follows in the same step
  (as a result's commit does), so the host's derived state and every view move with it.
  Returns 0 not marked, 1 marked (already unknown: no alert), 2 marked and alerted.
]]
--- @include "../../lua/includes/hostTally"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[4], 'online') == '0' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local previous = redis.call('HGET', KEYS[2], 'hardState') or redis.call('HGET', KEYS[2], 'state') or 'ok'
redis.call('HSET', KEYS[2], 'state', 'unknown', 'output', ARGV[7], 'stateType', 'hard',
  'hardState', 'unknown', 'since', ARGV[2], 'lastChange', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], 'unknown')
hostTally(KEYS[3], KEYS[4], KEYS[6], ARGV[4])
if previous == 'unknown' then return 1 end
local host = redis.call('HGET', KEYS[4], 'host') or ''
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'id', ARGV[5], 'kind', 'check',
  'jid', ARGV[4], 'host', host, 'check', ARGV[3], 'state', 'unknown', 'text', ARGV[7],
  'time', ARGV[2], 'previous', previous)
return 2
