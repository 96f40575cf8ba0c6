--[[
  pageIds-1 (read only)
  KEYS: 1 sorted set (node names by creation, or item ids by seq)
  ARGV: 1 head member listed before the set's members, or '' (the service's own
        listing puts `alertpublishers` first), 2 mode: after|before|last|index,
        3 anchor id (after, before) or start index (index), 4 max
  One XEP-0059 page in one call, in the set's order (score, then member): ZRANK
  finds the anchor, so a page costs O(log N + max) however large the set.
  Returns -6 if the anchor is not in the set, else {count, first index, ids...}.
]]
local h = 0
if ARGV[1] ~= '' then h = 1 end
local total = redis.call('ZCARD', KEYS[1]) + h
local max = tonumber(ARGV[4])
local function rank(id)
  if h == 1 and id == ARGV[1] then return 0 end
  local r = redis.call('ZRANK', KEYS[1], id)
  if not r then return nil end
  return r + h
end
local start, stop
if ARGV[2] == 'after' then
  local r = rank(ARGV[3])
  if not r then return -6 end
  start = r + 1
elseif ARGV[2] == 'before' then
  local r = rank(ARGV[3])
  if not r then return -6 end
  start = math.max(r - max, 0)
  stop = r - 1
elseif ARGV[2] == 'last' then
  start = math.max(total - max, 0)
else
  start = tonumber(ARGV[3])
end
stop = math.min(stop or (start + max - 1), total - 1)
local out = {total, start}
if max <= 0 or start > stop then return out end
if h == 1 and start == 0 then out[3] = ARGV[1] end
-- Set ranks are page ranks minus the head; never ask ZRANGE for a negative stop.
if stop - h >= 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], math.max(start - h, 0), stop - h)) do
    out[#out + 1] = id
  end
end
return out
