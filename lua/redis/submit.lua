-- submit: creates jobs (document and queue entry together). ARGV: count, then per job: uuid,
-- type, priority, delay ms (-1: parked, waiting for its children), ttr ms, unique key ('' for
-- none), its ttl ms, its hold (queued | running | until_done), its group ('' for a type without
-- GROUP, else '=' and the group), field count, name, value, ..., child count, child uuid, its
-- info (JSON), ... (flows: the children a batch's callback is made with, registered in the same
-- step, so no failover keeps the callback without them). Returns {id, cas} per job, or {0, 0,
-- uuid} for a job not created because job uuid holds its unique key. A uuid that exists already
-- is left as it is (a submit resent after a reconnect). Its ids are taken for the whole batch at
-- once (a resent or duplicate job leaves a gap in them).
--
-- A unique key is {zq:Q}:unique:<key> holding the uuid of the job that took it (with the ttl);
-- it is not released by the job's steps: a submit looks at the state of the job it names, and
-- takes the key over when that job has left the states the hold covers (or is gone).
local n = tonumber(ARGV[1])
local out, i, types = {}, 2, {}
local last = redis.call('HINCRBY', p, 'seq', n)
local earliest
for j = 1, n do
  local uuid, jtype, pri, delay, ttr = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local ukey, uttl, uhold = ARGV[i + 5], tonumber(ARGV[i + 6]), ARGV[i + 7]
  local grp = ARGV[i + 8] ~= '' and string.sub(ARGV[i + 8], 2) or nil -- [limits]
  local nf = tonumber(ARGV[i + 9])
  local kids_at = i + 10 + 2 * nf
  local nk = tonumber(ARGV[kids_at])
  local job = jk(uuid)
  local existing = redis.call('HMGET', job, '_id', 'cas')
  local held = ukey ~= '' and not existing[1] and holder(p .. ':unique:' .. ukey, uhold)
  if existing[1] then
    out[j] = { tonumber(existing[1]), tonumber(existing[2]) }
  elseif held then
    out[j] = { 0, 0, held }
  else
    if ukey ~= '' then
      take_unique(p .. ':unique:' .. ukey, uuid, uttl)
    end
    local id = last - n + j
    local m = string.format('%020d', id) .. ':' .. uuid
    local state = delay > 0 and 'delayed' or delay < 0 and 'parked' or 'waiting'
    local front = { '_lease', '0', '_state', state, '_m', m, '_dl', '0', 'cas', '1', '_nl', '0',
                    '_type', jtype, '_pri', pri, '_ttr', ttr, '_reserves', '0', '_lc', '0',
                    '_prior', '0', '_releases', '0', '_id', I(id),
                    '_ix', ix_move(jtype, uuid, nil, state) }
    if grp then front[#front + 1], front[#front + 2] = '_grp', grp end
    if ukey ~= '' then -- (its hold and ttl: a retry takes the key again)
      for _, v in ipairs { '_uk', ukey, '_uh', uhold, '_ut', I(uttl) } do front[#front + 1] = v end
    end
    hset_args(job, i + 10, i + 9 + 2 * nf, { 'queueJobId', I(id) }, front)
    for from = kids_at + 1, kids_at + 2 * nk, 2000 do -- (unpack has a limit)
      redis.call('HSET', job .. ':kids', unpack(ARGV, from, math.min(from + 1999, kids_at + 2 * nk)))
    end
    if delay > 0 then
      redis.call('ZADD', p .. ':delayed', I(now + delay), m)
      if not earliest or now + delay < earliest then earliest = now + delay end
    elseif delay == 0 then -- (delay -1: parked from birth, a batch's callback)
      ready_add(jtype, grp, pri, m)
    end
    types[jtype] = true
    out[j] = { id, 1 }
  end
  i = kids_at + 1 + 2 * nk
end
for jtype in pairs(types) do redis.call('SADD', p .. ':types', jtype) end
if earliest then due_by(earliest) end
-- a waiting claimer learns of a ready job, or of when a delayed one will be
if next(types) then signal() end
return out
