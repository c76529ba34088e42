-- submit: creates jobs (document and queue entry together). ARGV: count, then per job: uuid,
-- type, priority, delay ms, ttr ms, field count, name, value, ... Returns {id, cas} per job. A
-- uuid that exists already is left as it is (a submit resent after a reconnect).
local out, i, ready, types = {}, 2, false, {}
for j = 1, tonumber(ARGV[1]) do
  local uuid, jtype, pri, delay, ttr = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local nf = tonumber(ARGV[i + 5])
  local job = jk(uuid)
  local existing = redis.call('HMGET', job, '_id', 'cas')
  if existing[1] then
    out[j] = { tonumber(existing[1]), tonumber(existing[2]) }
  else
    local id = redis.call('HINCRBY', p, 'seq', 1)
    local m = string.format('%020d', id) .. ':' .. uuid
    hset_args(job, i + 6, i + 5 + 2 * nf)
    redis.call('HSET', job, 'queueJobId', id, 'cas', 1, '_type', jtype, '_pri', pri, '_ttr', ttr,
               '_id', id, '_m', m, '_reserves', 0, '_timeouts', 0, '_releases', 0, '_lease', 0,
               '_prior', 0)
    if delay > 0 then
      redis.call('ZADD', p .. ':delayed', now + delay, m)
      redis.call('HSET', job, '_state', 'delayed')
      ready = true -- not ready yet, but a waiting claimer must learn when it will be
    else
      redis.call('ZADD', p .. ':ready:' .. jtype, pri, m)
      redis.call('HSET', job, '_state', 'waiting')
      ready = true
    end
    types[jtype] = true
    out[j] = { id, 1 }
  end
  i = i + 6 + 2 * nf
end
for jtype in pairs(types) do redis.call('SADD', p .. ':types', jtype) end
if ready then signal() end
return out
