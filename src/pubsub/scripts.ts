/**
 * The pubsub service's Lua scripts: one state change is one script (atomic,
 * one round trip), named name-KEYCOUNT as BullMQ does. Negative returns are
 * mapped to errors by scriptError() in errors.ts:
 * -1 no node, -2 not allowed to publish, -3 outcast, -4 precondition not met,
 * -5 node exists, -6 no item, -7 not the item's publisher, -8 not subscribed,
 * -9 last owner.
 *
 * Per-user set names are built from the prefix passed in ARGV with the same
 * patterns as Keys.psUserNodes / Keys.psUserSubs.
 *
 * Item records (data hash values) are "nodeSeq publishedAt publisherBareJid payloadXml".
 */

import { AGENT_SEQ_REORDER_SPAN } from "../protocol/index.js";

/** Removes aged-out items from the front (oldest seq first) of a node. */
const EXPIRE_FN = `
local function expireItems(itemsKey, dataKey, cutoff, limit)
  local removed = 0
  for _ = 1, limit do
    local first = redis.call('ZRANGE', itemsKey, 0, 0)
    if #first == 0 then break end
    local rec = redis.call('HGET', dataKey, first[1])
    local t = 0
    if rec then t = tonumber(string.match(rec, '^%d+ (%d+) ')) or 0 end
    if t >= cutoff then break end
    redis.call('ZREM', itemsKey, first[1])
    redis.call('HDEL', dataKey, first[1])
    removed = removed + 1
  end
  return removed
end
`;

/** Trims a node to its newest `max` items, in bounded chunks. */
const TRIM_FN = `
local function trimItems(itemsKey, dataKey, max)
  if max <= 0 then return end
  local n = redis.call('ZCARD', itemsKey)
  while n > max do
    local count = math.min(n - max, 1000)
    local old = redis.call('ZRANGE', itemsKey, 0, count - 1)
    redis.call('ZREMRANGEBYRANK', itemsKey, 0, count - 1)
    redis.call('HDEL', dataKey, unpack(old))
    n = n - count
  end
end
`;

/**
 * publishItem-9
 * KEYS: 1 node hash, 2 items zset, 3 item data hash, 4 affiliations, 5 subscriptions,
 *       6 deliver set, 7 ingest stream, 8 nodes zset, 9 agents zset
 * ARGV: 1 node, 2 publisher bare, 3 publisher full, 4 item id, 5 payload, 6 now ms,
 *       7 agentSeq or '', 8 auto-create '1'/'0', 9 add to ingest '1'/'0', 10 owner bare
 *       (auto-create, ingest), 11 admin '1'/'0', 12 key prefix, 13 number of precondition
 *       pairs P, 14.. P field/value pairs, then default config field/value pairs (auto-create)
 * Returns a negative code, or {nodeSeq, flag, deliver JIDs...}: flag 0 stored, 1 a
 * duplicate, 2 stored in a node this call created (auto-create). A duplicate
 * (an agentSeq already stored, or one more than 1000 below the highest stored)
 * changes nothing and returns {0, 1}. `${prefix}ps:aseqs:<node>` remembers the
 * recent agentSeqs, so one that arrives after a higher one is still stored.
 */
export const PUBLISH_ITEM = `${EXPIRE_FN}${TRIM_FN}
local npre = tonumber(ARGV[13])
local created = 0
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then
  if ARGV[8] ~= '1' then return -1 end
  created = 2
  owner = ARGV[10]
  local fields = {'owner', owner, 'created', ARGV[6], 'seq', '0', 'agentSeq', '0'}
  for i = 14 + 2 * npre, #ARGV do fields[#fields + 1] = ARGV[i] end
  local cfg = {}
  for i = 1, #fields, 2 do cfg[fields[i]] = fields[i + 1] end
  for i = 14, 13 + 2 * npre, 2 do
    if cfg[ARGV[i]] ~= ARGV[i + 1] then return -4 end
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('HSET', KEYS[4], owner, 'owner')
  redis.call('ZADD', KEYS[8], ARGV[6], ARGV[1])
  redis.call('ZADD', KEYS[9], ARGV[6], ARGV[1])
  redis.call('SADD', ARGV[12] .. 'ps:user-nodes:' .. owner, ARGV[1])
else
  if ARGV[11] ~= '1' then
    local aff = redis.call('HGET', KEYS[4], ARGV[2])
    if aff == 'outcast' then return -3 end
    if aff ~= 'owner' and aff ~= 'publisher' then
      local model = redis.call('HGET', KEYS[1], 'publish_model')
      if model == 'subscribers' then
        if redis.call('HEXISTS', KEYS[5], ARGV[3]) == 0 and redis.call('HEXISTS', KEYS[5], ARGV[2]) == 0 then
          return -2
        end
      elseif model ~= 'open' then
        return -2
      end
    end
  end
  for i = 14, 13 + 2 * npre, 2 do
    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return -4 end
  end
end
local conf = redis.call('HMGET', KEYS[1], 'agentSeq', 'max_items', 'persist_items', 'item_expire')
-- Idempotency by agentSeq. Below the highest stored is not always a replay:
-- an agent keeps several publishes in flight, and when several components
-- share the JID ejabberd may deliver them out of order. So the agentSeqs of
-- the last REORDER_SPAN are remembered one by one; older ones are replays.
local REORDER_SPAN = ${AGENT_SEQ_REORDER_SPAN}
local aseq = tonumber(ARGV[7])
local high = tonumber(conf[1] or '0')
local seen = ARGV[12] .. 'ps:aseqs:' .. ARGV[1]
if aseq and aseq <= high then
  if aseq <= high - REORDER_SPAN or redis.call('ZSCORE', seen, ARGV[7]) then return {0, 1} end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if aseq then
  if aseq > high then redis.call('HSET', KEYS[1], 'agentSeq', ARGV[7]) end
  redis.call('ZADD', seen, aseq, ARGV[7])
  redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. (math.max(aseq, high) - REORDER_SPAN))
end
if conf[3] ~= '0' then
  redis.call('ZADD', KEYS[2], seq, ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], seq .. ' ' .. ARGV[6] .. ' ' .. ARGV[2] .. ' ' .. ARGV[5])
  trimItems(KEYS[2], KEYS[3], tonumber(conf[2] or '0'))
  local expire = tonumber(conf[4] or '0')
  if expire > 0 then expireItems(KEYS[2], KEYS[3], tonumber(ARGV[6]) - expire * 1000, 100) end
end
if ARGV[9] == '1' then
  redis.call('XADD', KEYS[7], '*', 'node', ARGV[1], 'owner', ARGV[10], 'nodeSeq', seq,
    'agentSeq', ARGV[7], 'itemId', ARGV[4], 'payload', ARGV[5], 'publishedAt', ARGV[6])
end
local out = redis.call('SMEMBERS', KEYS[6])
table.insert(out, 1, created)
table.insert(out, 1, seq)
return out
`;

/**
 * createNode-5
 * KEYS: 1 node hash, 2 affiliations, 3 nodes zset, 4 agents zset, 5 expiring set
 * ARGV: 1 node, 2 owner bare, 3 now, 4 agent node '1'/'0', 5 key prefix, 6.. config pairs
 */
export const CREATE_NODE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -5 end
local fields = {'owner', ARGV[2], 'created', ARGV[3], 'seq', '0', 'agentSeq', '0'}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[2], ARGV[2], 'owner')
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1]) end
redis.call('SADD', ARGV[5] .. 'ps:user-nodes:' .. ARGV[2], ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'item_expire') or '0') > 0 then
  redis.call('SADD', KEYS[5], ARGV[1])
end
return 1
`;

/**
 * configureNode-4
 * KEYS: 1 node hash, 2 items zset, 3 item data hash, 4 expiring set
 * ARGV: 1 node, 2.. config pairs
 * Applies the configuration and what it implies at once: fewer max_items trims,
 * persist_items off drops stored items, item_expire enrols the node in the sweep.
 */
export const CONFIGURE_NODE = `${TRIM_FN}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
local conf = redis.call('HMGET', KEYS[1], 'max_items', 'persist_items', 'item_expire')
if conf[2] == '0' then
  redis.call('DEL', KEYS[2], KEYS[3])
else
  trimItems(KEYS[2], KEYS[3], tonumber(conf[1] or '0'))
end
if tonumber(conf[3] or '0') > 0 then
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
return 1
`;

/**
 * deleteNode-9
 * KEYS: 1 node hash, 2 items, 3 item data, 4 affiliations, 5 subscriptions, 6 deliver set,
 *       7 nodes zset, 8 agents zset, 9 expiring set
 * ARGV: 1 node, 2 key prefix
 * Returns {notify_delete, deliver JIDs...}.
 */
export const DELETE_NODE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local out = redis.call('SMEMBERS', KEYS[6])
table.insert(out, 1, redis.call('HGET', KEYS[1], 'notify_delete') or '1')
for _, jid in ipairs(redis.call('HKEYS', KEYS[5])) do
  local bare = string.match(jid, '^[^/]+')
  redis.call('SREM', ARGV[2] .. 'ps:user-subs:' .. bare, ARGV[1] .. '\\n' .. jid)
end
for _, bare in ipairs(redis.call('HKEYS', KEYS[4])) do
  redis.call('SREM', ARGV[2] .. 'ps:user-nodes:' .. bare, ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[2] .. 'ps:aseqs:' .. ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('SREM', KEYS[9], ARGV[1])
return out
`;

/**
 * purgeNode-4
 * KEYS: 1 node hash, 2 items, 3 item data, 4 deliver set
 * Returns {deliver JIDs...} (possibly empty).
 */
export const PURGE_NODE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('DEL', KEYS[2], KEYS[3])
local out = redis.call('SMEMBERS', KEYS[4])
table.insert(out, 1, 1)
return out
`;

/**
 * retractItem-5
 * KEYS: 1 node hash, 2 items, 3 item data, 4 affiliations, 5 deliver set
 * ARGV: 1 item id, 2 requester bare, 3 admin '1'/'0'
 * Owners and publishers retract any item; others only their own.
 * Returns {notify_retract, deliver JIDs...}.
 */
export const RETRACT_ITEM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then return -6 end
if ARGV[3] ~= '1' then
  local aff = redis.call('HGET', KEYS[4], ARGV[2])
  if aff == 'outcast' then return -3 end
  if aff ~= 'owner' and aff ~= 'publisher' then
    if string.match(rec, '^%d+ %d+ (%S+) ') ~= ARGV[2] then return -7 end
  end
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
local out = redis.call('SMEMBERS', KEYS[5])
table.insert(out, 1, redis.call('HGET', KEYS[1], 'notify_retract') or '1')
return out
`;

/**
 * setSubscription-4
 * KEYS: 1 node hash, 2 subscriptions, 3 deliver set, 4 subscriber's user-subs set
 * ARGV: 1 subscriber JID, 2 state (subscribed|pending), 3 subid, 4 deliver '1'/'0', 5 node
 */
export const SET_SUBSCRIPTION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
if ARGV[2] == 'subscribed' and ARGV[4] == '1' then
  redis.call('SADD', KEYS[3], ARGV[1])
else
  redis.call('SREM', KEYS[3], ARGV[1])
end
redis.call('SADD', KEYS[4], ARGV[5] .. '\\n' .. ARGV[1])
return 1
`;

/**
 * decideSubscription-4
 * KEYS: 1 node hash, 2 subscriptions, 3 deliver set, 4 subscriber's user-subs set
 * ARGV: 1 subscriber JID, 2 subid, 3 allow '1'/'0', 4 node
 * An owner's answer to a pending subscription (§8.6), applied once: allow
 * subscribes it, deny removes it. Returns 1 if decided now, 0 if it is not
 * pending with that subid (another answer came first), -1 if there is no node.
 */
export const DECIDE_SUBSCRIPTION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return 0 end
local state, subid, deliver = string.match(rec, '^(%S+) (%S*) ?(%S*)$')
if state ~= 'pending' or subid ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], ARGV[1], 'subscribed ' .. subid .. ' ' .. deliver)
  if deliver ~= '0' then redis.call('SADD', KEYS[3], ARGV[1]) end
else
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SREM', KEYS[3], ARGV[1])
  redis.call('SREM', KEYS[4], ARGV[4] .. '\\n' .. ARGV[1])
end
return 1
`;

/**
 * removeSubscription-4
 * KEYS: 1 node hash, 2 subscriptions, 3 deliver set, 4 subscriber's user-subs set
 * ARGV: 1 subscriber JID, 2 node
 */
export const REMOVE_SUBSCRIPTION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return -8 end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[2] .. '\\n' .. ARGV[1])
return 1
`;

/**
 * setAffiliation-4
 * KEYS: 1 node hash, 2 affiliations, 3 subscriptions, 4 deliver set
 * ARGV: 1 bare JID, 2 affiliation (owner|publisher|member|outcast|none), 3 node, 4 key prefix
 * An outcast loses its subscriptions; the last owner cannot be removed.
 */
export const SET_AFFILIATION = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current == 'owner' and ARGV[2] ~= 'owner' then
  local owners = 0
  local all = redis.call('HGETALL', KEYS[2])
  for i = 2, #all, 2 do if all[i] == 'owner' then owners = owners + 1 end end
  if owners <= 1 then return -9 end
end
if ARGV[2] == 'none' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('SREM', ARGV[4] .. 'ps:user-nodes:' .. ARGV[1], ARGV[3])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('SADD', ARGV[4] .. 'ps:user-nodes:' .. ARGV[1], ARGV[3])
end
if ARGV[2] == 'outcast' then
  local bare = ARGV[1]
  for _, jid in ipairs(redis.call('HKEYS', KEYS[3])) do
    if jid == bare or string.sub(jid, 1, #bare + 1) == bare .. '/' then
      redis.call('HDEL', KEYS[3], jid)
      redis.call('SREM', KEYS[4], jid)
      redis.call('SREM', ARGV[4] .. 'ps:user-subs:' .. bare, ARGV[3] .. '\\n' .. jid)
    end
  end
end
return 1
`;

/**
 * expireItems-3
 * KEYS: 1 node hash, 2 items, 3 item data
 * ARGV: 1 now ms
 * Returns the number of aged-out items removed (at most 1000 per call).
 */
export const EXPIRE_ITEMS = `${EXPIRE_FN}
local expire = tonumber(redis.call('HGET', KEYS[1], 'item_expire') or '0')
if expire <= 0 then return 0 end
return expireItems(KEYS[2], KEYS[3], tonumber(ARGV[1]) - expire * 1000, 1000)
`;

/**
 * pageIds-1 (read only)
 * KEYS: 1 sorted set (node names by creation, or item ids by seq)
 * ARGV: 1 head member listed before the set's members, or '' (the service's own
 *       listing puts `alertpublishers` first), 2 mode: after|before|last|index,
 *       3 anchor id (after, before) or start index (index), 4 max
 * One XEP-0059 page in one call, in the set's order (score, then member): ZRANK
 * finds the anchor, so a page costs O(log N + max) however large the set.
 * Returns -6 if the anchor is not in the set, else {count, first index, ids...}.
 */
export const PAGE_IDS = `
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
`;
