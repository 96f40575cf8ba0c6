--[[
  commitEntries-N
  KEYS: the keys the entries refer to (by index into KEYS)
  ARGV[1] this instance's id, ARGV[2] JSON list of entries, in commit order:
    {leaseIndex, hostIndex, nodeSeq, operations} (the lease key of the entry's
    shard; the host hash holds processedSeq)

  Applies each ingest entry only if this instance still holds its shard's
  lease (a fence against a paused instance whose lease expired), and only if
  its nodeSeq is past its agent's processedSeq (a redelivered entry is
  skipped), advancing processedSeq in the same step: that is what makes the
  processing exactly-once. Several entries per call save round trips; the
  caller sends at most one entry per agent, or an agent's entries in order.
  Returns, per entry, 1 applied, 0 already processed or -1 fenced.
  Operations (all values strings):
    {"hset", k, f, v, ...}          {"hdel", k, f, ...}
    {"lpush", k, max, v}             LPUSH then LTRIM to max entries
    {"xadd", k, max, f, v, ...}      XADD MAXLEN ~ max
    {"sadd", k, member}              {"zadd", k, score, member}
    {"touch", hostKey, hostsKey, now, jid}  lastSeen = now if the host is known
    {"metric", raw, agg, idx, time, value, rawCutoff, minute, aggCutoff}
    {"tally", checksKey, hostKey, changesChannel, jid}  the host's check tally
      (checkCount, checkCritical, checkWarning, checkUnknown, checkFailing: JSON
      names of up to 5 failing checks, worst first) from its checks hash, so the
      status model (src/protocol/host-status.ts) reads every result in the commit
      that stored it; publishes the JID on the channel when the tally changed
      (includes/hostTally, shared with the freshness sweep's markCheckStale)
]]
--- @include "includes/hostTally"
local function apply(op)
  local name = op[1]
  local key = KEYS[tonumber(op[2])]
  if name == 'hset' then
    redis.call('HSET', key, unpack(op, 3))
  elseif name == 'hdel' then
    redis.call('HDEL', key, unpack(op, 3))
  elseif name == 'lpush' then
    redis.call('LPUSH', key, op[4])
    redis.call('LTRIM', key, 0, tonumber(op[3]) - 1)
  elseif name == 'xadd' then
    redis.call('XADD', key, 'MAXLEN', '~', op[3], '*', unpack(op, 4))
  elseif name == 'sadd' then
    redis.call('SADD', key, op[3])
  elseif name == 'zadd' then
    redis.call('ZADD', key, op[3], op[4])
  elseif name == 'touch' then
    if redis.call('HEXISTS', key, 'jid') == 1 then
      redis.call('HSET', key, 'lastSeen', op[4])
      redis.call('ZADD', KEYS[tonumber(op[3])], op[4], op[5])
    end
  elseif name == 'metric' then
    local raw, agg, idx = key, KEYS[tonumber(op[3])], KEYS[tonumber(op[4])]
    redis.call('ZADD', raw, op[5], op[5] .. ':' .. op[6])
    redis.call('ZREMRANGEBYSCORE', raw, '-inf', '(' .. op[7])
    redis.call('HINCRBYFLOAT', agg, op[8] .. ':s', op[6])
    redis.call('HINCRBY', agg, op[8] .. ':n', 1)
    redis.call('ZADD', idx, op[8], op[8])
    local old = redis.call('ZRANGEBYSCORE', idx, '-inf', '(' .. op[9])
    for _, minute in ipairs(old) do redis.call('HDEL', agg, minute .. ':s', minute .. ':n') end
    if #old > 0 then redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. op[9]) end
  elseif name == 'tally' then
    hostTally(key, KEYS[tonumber(op[3])], KEYS[tonumber(op[4])], op[5])
  end
end
local results = {}
local held = {}
for i, entry in ipairs(cjson.decode(ARGV[2])) do
  local lease = KEYS[tonumber(entry[1])]
  if held[lease] == nil then held[lease] = redis.call('GET', lease) == ARGV[1] end
  local host = KEYS[tonumber(entry[2])]
  local seq = tonumber(entry[3])
  local done = held[lease] and tonumber(redis.call('HGET', host, 'processedSeq') or '0')
  if not held[lease] then
    results[i] = -1
  elseif seq <= done then
    results[i] = 0
  else
    if seq > done + 1 and done > 0 then redis.call('HINCRBY', host, 'seqGaps', seq - done - 1) end
    redis.call('HSET', host, 'processedSeq', entry[3])
    redis.call('HINCRBY', host, 'processedCount', 1)
    for _, op in ipairs(entry[4]) do apply(op) end
    results[i] = 1
  end
end
return results
