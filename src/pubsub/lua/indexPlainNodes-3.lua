--[[
  indexPlainNodes-3
  KEYS: 1 nodes zset, 2 plain-nodes zset, 3 marker key
  Once per Redis (the marker): fills `ps:plain-nodes` with the non-agent nodes
  created before it existed; createNode and deleteNode keep it since. Returns
  the number of nodes added (0 when already done).
]]
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local added = 0
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 7) ~= 'agents/' then
    added = added + redis.call('ZADD', KEYS[2], all[i + 1], all[i])
  end
end
redis.call('SET', KEYS[3], '1')
return added
