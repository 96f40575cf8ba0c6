/**
 * Lua scripts of the monitor (docs/monitor.md). One state change = one script.
 */

/**
 * commitEntries-N
 * KEYS: the keys the entries refer to (by index into KEYS)
 * ARGV[1] this instance's id, ARGV[2] JSON list of entries, in commit order:
 *   {leaseIndex, hostIndex, nodeSeq, operations} (the lease key of the entry's
 *   shard; the host hash holds processedSeq)
 *
 * Applies each ingest entry only if this instance still holds its shard's
 * lease (a fence against a paused instance whose lease expired), and only if
 * its nodeSeq is past its agent's processedSeq (a redelivered entry is
 * skipped), advancing processedSeq in the same step: that is what makes the
 * processing exactly-once. Several entries per call save round trips; the
 * caller sends at most one entry per agent, or an agent's entries in order.
 * Returns, per entry, 1 applied, 0 already processed or -1 fenced.
 * Operations (all values strings):
 *   {"hset", k, f, v, ...}          {"hdel", k, f, ...}
 *   {"lpush", k, max, v}             LPUSH then LTRIM to max entries
 *   {"xadd", k, max, f, v, ...}      XADD MAXLEN ~ max
 *   {"sadd", k, member}              {"zadd", k, score, member}
 *   {"touch", hostKey, hostsKey, now, jid}  lastSeen = now if the host is known
 *   {"metric", raw, agg, idx, time, value, rawCutoff, minute, aggCutoff}
 */
export const COMMIT_ENTRIES = `
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
`;

/**
 * leaseAcquire-1
 * KEYS[1] lease key; ARGV[1] instance id, ARGV[2] ttl (ms)
 * Returns 1 renewed (already ours), 2 acquired, 0 held by another instance.
 */
export const LEASE_ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
`;

/**
 * leaseRelease-1
 * KEYS[1] lease key; ARGV[1] instance id. Deletes the lease only if ours.
 */
export const LEASE_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * setScore-3
 * KEYS[1] host hash, KEYS[2] alert outbox, KEYS[3] host changes channel (the
 * status page follows it; the JID is the host key's tail)
 * ARGV[1] score, ARGV[2] state, ARGV[3] breakdown JSON, ARGV[4] now, ARGV[5] outbox max length,
 * ARGV[6..] alert fields (field/value pairs) for a score alert
 * Stores the score. While the host is online, a state different from the last
 * one alerted (ok when none) adds a score alert with 'previous'; an offline
 * host has its own down alert, so its score changes alert nobody, and coming
 * back to the state it had before is no news either.
 * Returns the previous alerted state if an alert was added, else ''.
 */
export const SET_SCORE = `
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
`;

/**
 * liveAlert-2
 * KEYS[1] host hash, KEYS[2] alert outbox
 * ARGV[1] 'down' or 'up', ARGV[2] outbox max length, ARGV[3..] alert fields
 * A down alert once per outage; an up (recovery) alert only after a down alert.
 * Returns 1 if an alert was added.
 */
export const LIVE_ALERT = `
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
`;

/**
 * offlineTake-1
 * KEYS[1] the agent's offline queue; ARGV[1] now (ms)
 * Pops the oldest unexpired entry, dropping expired ones on the way.
 * Returns {entry or false, expired entries...}.
 */
export const OFFLINE_TAKE = `
local expired = {}
while true do
  local raw = redis.call('LPOP', KEYS[1])
  if not raw then return {false, unpack(expired)} end
  local ok, entry = pcall(cjson.decode, raw)
  if ok and tonumber(entry.expiresAt) > tonumber(ARGV[1]) then
    return {raw, unpack(expired)}
  end
  expired[#expired + 1] = raw
end
`;

/*
 * Open problems (src/monitor/problems.ts): one hash, field
 * "<jid>|<kind>|<check>", value JSON
 *   {since, alert, notified?, count, acknowledged}
 * `since`: when the problem's first alert was raised (ms); `alert`: its latest
 * dispatched alert (reminders included); `notified`: the latest first
 * notification of a re-notified kind, which reminders repeat; `count`:
 * reminders written since `notified`; `acknowledged`: no reminders. The
 * schedule zset holds the fields due for a reminder, by due time (ms).
 */

/**
 * recordProblem-2
 * KEYS: 1 open problems hash, 2 re-notification schedule
 * ARGV: 1 problem field, 2 the latest alert (JSON) or '' to close the problem,
 * 3 the alert's time (ms), 4 what it changes for reminders: 'renotify' (a
 * first notification: reminders repeat it from now on), 'acknowledge' (no
 * more reminders) or 'keep', 5 with 'renotify', when the first reminder is
 * due (ms; '' when re-notification is disabled)
 * Returns 1 if changed.
 */
export const RECORD_PROBLEM = `
local field = ARGV[1]
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], field)
  return redis.call('HDEL', KEYS[1], field)
end
local raw = redis.call('HGET', KEYS[1], field)
local problem = raw and cjson.decode(raw) or {since = tonumber(ARGV[3]), count = 0, acknowledged = false}
problem.alert = cjson.decode(ARGV[2])
if ARGV[4] == 'renotify' then
  problem.notified = problem.alert
  problem.count = 0
  problem.acknowledged = false
  if ARGV[5] ~= '' then redis.call('ZADD', KEYS[2], ARGV[5], field) end
elseif ARGV[4] == 'acknowledge' then
  problem.acknowledged = true
  redis.call('ZREM', KEYS[2], field)
end
redis.call('HSET', KEYS[1], field, cjson.encode(problem))
return 1
`;

/**
 * acknowledgeProblems-2
 * KEYS: 1 open problems hash, 2 re-notification schedule
 * ARGV: the problem fields an acknowledgement covers
 * Marks the open ones acknowledged and unschedules them (they stay listed).
 * Returns how many were open.
 */
export const ACKNOWLEDGE_PROBLEMS = `
local open = 0
for _, field in ipairs(ARGV) do
  redis.call('ZREM', KEYS[2], field)
  local raw = redis.call('HGET', KEYS[1], field)
  if raw then
    local problem = cjson.decode(raw)
    problem.acknowledged = true
    redis.call('HSET', KEYS[1], field, cjson.encode(problem))
    open = open + 1
  end
end
return open
`;

/**
 * unacknowledgeProblems-2
 * KEYS: 1 open problems hash, 2 re-notification schedule
 * ARGV: 1 when the next reminder is due (ms; '' when re-notification is
 * disabled), 2 the re-notified kinds (comma-separated), 3.. the problem
 * fields a withdrawn acknowledgement covered
 * Their reminders resume, one interval from now, repeating the problem's
 * latest alert: alerts dispatched while it was acknowledged (a worse state,
 * or a problem that began acknowledged) were never notified.
 * Returns how many were acknowledged.
 */
export const UNACKNOWLEDGE_PROBLEMS = `
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
`;

/**
 * renotifyDue-3
 * KEYS: 1 re-notification schedule, 2 open problems hash, 3 alert outbox
 * ARGV: 1 now (ms), 2 interval (ms), 3 outbox MAXLEN, 4 most problems per call
 * Claims the due problems, moves each on by one interval and writes its
 * reminder (the `notified` alert again, id "<its id>-r<n>") to the outbox, in
 * one step: each reminder is written once however many instances call this.
 * A closed or acknowledged problem leaves the schedule instead.
 * Returns the number of reminders written.
 */
export const RENOTIFY_DUE = `
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
`;
