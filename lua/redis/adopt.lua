-- adopt (flows): registers children of a parent before they are submitted, so that each of
-- their ends counts for it. KEYS: {zq:Q}, the parent's job hash, its :kids, :kres and :kearly
-- hashes. ARGV: lease token ('0': from outside a run; a batch's callback has its children
-- registered by its submit), writer, sequence, the sequence number of the run's last acknowledged write (0:
-- none), n, then per child: uuid, info (JSON). A child registered already is left as it is; one
-- whose end came before its registration (deliver.lua keeps it) has that end counted now.
-- Returns 1, or 0 when the token is not the parent's current lease, -1 when (from outside a
-- run) there is no such parent, or -4 when this server does not hold the run's last
-- acknowledged write (as write.lua).
if ARGV[1] ~= '0' then
  local wfield = '_w:' .. ARGV[2]
  local seq, chain = tonumber(ARGV[3]), tonumber(ARGV[4])
  local h = redis.call('HMGET', KEYS[2], '_lease', '_state', '_m', '_dl', wfield)
  local applied = tonumber(h[5] or '0')
  if seq > 0 and applied >= seq then return 1 end -- applied before, reply lost
  if not fenced(h, ARGV[1]) then return 0 end
  if chain > 0 and applied < chain then return -4 end
  if seq > 0 then redis.call('HSET', KEYS[2], wfield, ARGV[3]) end
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  return -1 -- (no keys for a parent that is gone)
end
local early = redis.call('EXISTS', KEYS[5]) == 1
for i = 6, 5 + 2 * tonumber(ARGV[5]), 2 do
  local cu, info = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', KEYS[3], cu, info) == 1 and early then
    local ended = redis.call('HGET', KEYS[5], cu)
    if ended then
      redis.call('HDEL', KEYS[5], cu)
      flow_record(KEYS[2], KEYS[4], cu, string.sub(ended, 2), string.sub(ended, 1, 1) == '1', info)
    end
  end
end
return 1
