--[[
  claimRpc-3
  KEYS[1] agent's queue list, KEYS[2] requests hash, KEYS[3] expiries zset
  ARGV[1] now (ms)
  Pops the oldest request; returns {expired (0/1), JSON} or nil when empty.
]]
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then return nil end
  local json = redis.call('HGET', KEYS[2], id)
  local expiresAt = redis.call('ZSCORE', KEYS[3], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  if json then
    local expired = 0
    if expiresAt and tonumber(expiresAt) <= tonumber(ARGV[1]) then expired = 1 end
    return {expired, json}
  end
end
