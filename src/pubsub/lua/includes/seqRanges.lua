--[[
  seqRanges (include): the agent seqs a node has stored, as ranges: a sorted set with score = the
  range's first seq and member = its last seq (`%.0f`, exact up to 2^53).
  Consecutive seqs merge into one range, so an agent that never skips needs
  one member; the oldest ranges beyond MAX_SEQ_RANGES are dropped (a replay of
  one of those is then refused as regressed and re-seeded: at worst a
  duplicate, never a loss).
]]
local MAX_SEQ_RANGES = 512
local function fmt(n) return string.format('%.0f', n) end
-- The range that starts at or below x: {lo, hi} or nil.
local function rangeAtOrBelow(key, x)
  local r = redis.call('ZREVRANGEBYSCORE', key, fmt(x), '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #r == 0 then return nil end
  return {tonumber(r[2]), tonumber(r[1]), r[1]}
end
local function addSeq(key, x, prev)
  local lo, hi = x, x
  if prev and prev[2] == x - 1 then
    lo = prev[1]
    redis.call('ZREM', key, prev[3])
  end
  local nxt = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(x), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #nxt > 0 and tonumber(nxt[2]) == x + 1 then
    hi = tonumber(nxt[1])
    redis.call('ZREM', key, nxt[1])
  end
  redis.call('ZADD', key, fmt(lo), fmt(hi))
  local n = redis.call('ZCARD', key)
  if n > MAX_SEQ_RANGES then redis.call('ZREMRANGEBYRANK', key, 0, n - MAX_SEQ_RANGES - 1) end
end
-- Nodes stored before the ranges remembered each recent seq in ps:aseqs:<node>.
local function migrateSeqs(key, legacy)
  if redis.call('EXISTS', key) == 1 or redis.call('EXISTS', legacy) == 0 then return end
  for _, m in ipairs(redis.call('ZRANGE', legacy, 0, -1)) do
    local x = tonumber(m)
    if x then addSeq(key, x, rangeAtOrBelow(key, x)) end
  end
  redis.call('DEL', legacy)
end
