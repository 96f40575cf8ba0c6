--[[
  leaseRelease-1
  KEYS[1] lease key; ARGV[1] instance id. Deletes the lease only if ours.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
