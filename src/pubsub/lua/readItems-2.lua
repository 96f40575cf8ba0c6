--[[
  readItems-2 (read only)
  KEYS: 1 items zset (by seq), 2 item data hash
  ARGV: 1 mode: index|after|before|last|recent|ids, 2 byte budget, 3 expiry cutoff ms
        (items published before are skipped; 0: none), 4 max items, 5 anchor: start
        index (index), item id (after, before), unused otherwise, 6.. item ids (ids)
  One retrieval page within a byte budget, so a reply never outgrows the stanza
  limit and no more than the budget is read. Forward modes (index, after, ids)
  fill from the start of their window, backward ones (before, last, recent: the
  newest N) from its end. Each item costs an upper bound of its serialised
  `<item/>` (record bytes + 6 per id/publisher byte for XML escaping + 80).
  Returns -6 if the anchor is not stored, else {status, count, first rank,
  id, record, id, record...} in seq order; status 0: the window fitted, 1: cut
  by the budget, 2: the first item alone is over the budget.
]]
local mode = ARGV[1]
local budget = tonumber(ARGV[2])
local cutoff = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local count = redis.call('ZCARD', KEYS[1])
local out = {}
local used = 0
local status = 0
local firstRank = 0
local function take(id, rec)
  local t, pub = string.match(rec, '^%d+ (%d+) (%S+) ')
  if cutoff > 0 and (tonumber(t) or 0) < cutoff then return true end
  local cost = #rec + 6 * #id + 6 * #(pub or '') + 80
  if used + cost > budget then
    if #out == 0 then status = 2 else status = 1 end
    return false
  end
  used = used + cost
  out[#out + 1] = {id, rec}
  return true
end
if mode == 'ids' then
  for i = 6, #ARGV do
    local rec = redis.call('HGET', KEYS[2], ARGV[i])
    if rec and not take(ARGV[i], rec) then break end
  end
  local reply = {status, count, 0}
  for _, e in ipairs(out) do reply[#reply + 1] = e[1]; reply[#reply + 1] = e[2] end
  return reply
end
local start, stop
local backward = false
if mode == 'after' or mode == 'before' then
  local r = redis.call('ZRANK', KEYS[1], ARGV[5])
  if not r then return -6 end
  if mode == 'after' then start = r + 1; stop = r + max
  else start = math.max(r - max, 0); stop = r - 1; backward = true end
elseif mode == 'last' or mode == 'recent' then
  start = math.max(count - max, 0); stop = count - 1; backward = true
else
  start = tonumber(ARGV[5]); stop = start + max - 1
end
stop = math.min(stop, count - 1)
local ranks = {}
local CHUNK = 64
if not backward then
  local r = start
  local going = true
  while going and r <= stop do
    local ids = redis.call('ZRANGE', KEYS[1], r, math.min(r + CHUNK - 1, stop))
    if #ids == 0 then break end
    local recs = redis.call('HMGET', KEYS[2], unpack(ids))
    for i, id in ipairs(ids) do
      if recs[i] then
        local before = #out
        if not take(id, recs[i]) then going = false; break end
        if #out > before then ranks[#out] = r + i - 1 end
      end
    end
    r = r + CHUNK
  end
else
  local r = stop
  local going = true
  while going and r >= start do
    local lo = math.max(r - CHUNK + 1, start)
    local ids = redis.call('ZRANGE', KEYS[1], lo, r)
    if #ids == 0 then break end
    local recs = redis.call('HMGET', KEYS[2], unpack(ids))
    for i = #ids, 1, -1 do
      if recs[i] then
        local before = #out
        if not take(ids[i], recs[i]) then going = false; break end
        if #out > before then ranks[#out] = lo + i - 1 end
      end
    end
    r = lo - 1
  end
  -- Collected newest first: return them in seq order.
  local n = #out
  for i = 1, math.floor(n / 2) do
    out[i], out[n - i + 1] = out[n - i + 1], out[i]
    ranks[i], ranks[n - i + 1] = ranks[n - i + 1], ranks[i]
  end
end
if #out > 0 then firstRank = ranks[1] end
local reply = {status, count, firstRank}
for _, e in ipairs(out) do reply[#reply + 1] = e[1]; reply[#reply + 1] = e[2] end
return reply
