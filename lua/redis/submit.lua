-- submit: creates jobs (document and queue entry together). ARGV: count, then per job: uuid,
-- type, priority, delay ms, ttr ms, field count, name, value, ... Returns {id, cas} per job. A
-- uuid that exists already is left as it is (a submit resent after a reconnect). Three calls a
-- job: its ids are taken for the whole batch at once (a resent job leaves a gap in them).
local n = tonumber(ARGV[1])
local out, i, types = {}, 2, {}
local last = redis.call('HINCRBY', p, 'seq', n)
local earliest
for j = 1, n do
  local uuid, jtype, pri, delay, ttr = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local nf = tonumber(ARGV[i + 5])
  local job = jk(uuid)
  local existing = redis.call('HMGET', job, '_id', 'cas')
  if existing[1] then
    out[j] = { tonumber(existing[1]), tonumber(existing[2]) }
  else
    local id = last - n + j
    local m = string.format('%020d', id) .. ':' .. uuid
    local state = delay > 0 and 'delayed' or 'waiting'
    hset_args(job, i + 6, i + 5 + 2 * nf,
              { 'queueJobId', I(id) },
              { '_lease', '0', '_state', state, '_m', m, '_dl', '0', 'cas', '1', '_nl', '0',
                '_type', jtype, '_pri', pri, '_ttr', ttr, '_reserves', '0', '_lc', '0', '_prior', '0',
                '_releases', '0', '_id', I(id), '_ix', ix_move(jtype, uuid, nil, state) })
    if delay > 0 then
      redis.call('ZADD', p .. ':delayed', I(now + delay), m)
      if not earliest or now + delay < earliest then earliest = now + delay end
    else
      redis.call('ZADD', p .. ':ready:' .. jtype, pri, m)
    end
    types[jtype] = true
    out[j] = { id, 1 }
  end
  i = i + 6 + 2 * nf
end
for jtype in pairs(types) do redis.call('SADD', p .. ':types', jtype) end
if earliest then due_by(earliest) end
-- a waiting claimer learns of a ready job, or of when a delayed one will be
if next(types) then signal() end
return out
