--[[
  The host's check tally (checkCount, checkCritical, checkWarning,
  checkUnknown, checkFailing: JSON names of up to 5 failing checks, worst
  first), recomputed from its checks hash: the input of the status model
  (src/protocol/host-status.ts). Every script that changes a check's state
  calls it in the same step, so the host's derived state never lags its
  checks; it publishes the JID on the changes channel when the tally changed
  (the HTTP snapshot, SSE, /metrics and the hosts node follow that channel).
]]
local TALLY_RANK = {ok = 0, unknown = 1, warning = 2, critical = 3}
local function hostTally(checks, host, channel, jid)
  local all = redis.call('HGETALL', checks)
  local n, counts, failing = 0, {critical = 0, warning = 0, unknown = 0}, {}
  for i = 1, #all, 2 do
    n = n + 1
    local state = all[i + 1]
    if state ~= 'ok' then
      if counts[state] == nil then state = 'unknown' end
      counts[state] = counts[state] + 1
      failing[#failing + 1] = {all[i], TALLY_RANK[state]}
    end
  end
  table.sort(failing, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    return a[1] < b[1]
  end)
  local names = {}
  for i = 1, math.min(5, #failing) do names[i] = failing[i][1] end
  local encoded = #names == 0 and '[]' or cjson.encode(names)
  local new = {tostring(n), tostring(counts.critical), tostring(counts.warning), tostring(counts.unknown), encoded}
  local old = redis.call('HMGET', host, 'checkCount', 'checkCritical', 'checkWarning', 'checkUnknown', 'checkFailing')
  local same = true
  for i = 1, 5 do if old[i] ~= new[i] then same = false end end
  if same then return false end
  redis.call('HSET', host, 'checkCount', new[1], 'checkCritical', new[2], 'checkWarning', new[3],
    'checkUnknown', new[4], 'checkFailing', new[5])
  redis.call('PUBLISH', channel, jid)
  return true
end
