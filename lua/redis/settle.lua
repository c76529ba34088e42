-- settle: ends a run (or, from outside, a job's wait or run: kill, a dead worker's release) and,
-- when asked, claims the next job of the queue in the same step (a host with a free slot saves
-- a round trip and a script).
-- KEYS: {zq:Q}, the job, its events, warnings, errors lists (and, with a claim, the keys it may
-- create: the copy of the document, the claim memo, :reserved). ARGV: lease token ('0' from outside:
-- any), writer, sequence, action (finish | release | bury | park), delay ms, retention s, event entry,
-- error entry, bury reason, prior (release from outside), outside (1 | 0), the number n of job
-- types to claim the next job of (0: no claim), the claim's sequence, announce (1 | 0), the n
-- types, the sequence number of the run's last write acknowledged (0: none), failed (finish: 1
-- when the job failed, 0 when it succeeded; followed by p when the job is some parent's child),
-- then name, value, ...
-- Returns {1, cas} or, with a claim, {1, cas, claim} (claim: as claim_job returns it), {2, ...}
-- the same when this settle was applied before (a resend whose first reply was lost); {-1} no
-- such job, {-2} the lease is not current, {-3} finished already, {-4} this server does not
-- hold the run's last acknowledged write (a replica promoted before it had it: the host writes
-- the run's writes again, then settles).
local token, writer, seq, action = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local outside = ARGV[11] == '1'
local ntypes = tonumber(ARGV[12])
local last_write = tonumber(ARGV[15 + ntypes])
local failed = string.byte(ARGV[16 + ntypes], 1) == 49 -- '1'
local has_parent = string.byte(ARGV[16 + ntypes], 2) == 112 -- 'p' (flows: the job is a child)
local first_field = 17 + ntypes
local function done(cas, again) -- again: applied before (2), not now (1)
  local code = again and 2 or 1
  if ntypes == 0 then return { code, cas } end
  advance()
  return { code, cas, claim_job(writer, ARGV[13], ARGV[14] == '1', 15, 14 + ntypes) }
end
-- a settle that claims reads the queue's clock and due fields first (its claim needs them, and
-- a finish with a retention then lowers xdue without reading it again)
if ntypes > 0 then keep_time() end
local job = KEYS[2]
local wfield = '_w:' .. writer
local h = redis.call('HMGET', job, '_lease', '_state', '_m', '_dl', 'cas', wfield, '_type', '_nl',
                     'errorCount', '_releases', '_pri', '_ix', '_grp', '_cl')
if not h[5] then return { outside and -1 or -2 } end
local cas = count(h[5])
if seq > 0 and tonumber(h[6] or '0') >= seq then return done(cas, true) end -- applied already
local m = h[3]
if outside then
  if h[2] == 'finished' then return { -3 } end
  if token ~= '0' and (h[2] ~= 'running' or h[1] ~= token) then return { -2 } end
  for _, z in ipairs({ ':reserved', ':delayed', ':buried', string.sub(ready_key(h[7], h[13]), #p + 1) }) do
    redis.call('ZREM', p .. z, m)
  end
else
  if not fenced(h, token) then return { -2 } end
  if last_write > 0 and tonumber(h[6] or '0') < last_write then return { -4 } end
  redis.call('ZREM', p .. ':reserved', m)
end
free_slot(job, h[14]) -- [limits]
local prior = tonumber(ARGV[10])
local nl = tonumber(h[8] or '0')
local extra = { '_lease', '0', 'cas', I(cas + 1) }
local function set(k, v) extra[#extra + 1], extra[#extra + 2] = k, v end
if seq > 0 then set(wfield, ARGV[3]) end
if not (outside and action == 'release' and prior ~= 0) then set('running', 'false') end
if ARGV[7] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[7])
  if not has_list(nl, 1) then nl = nl + 1 end
end
if ARGV[8] ~= '' then
  redis.call('RPUSH', KEYS[5], ARGV[8])
  if not has_list(nl, 4) then nl = nl + 4 end
  set('errorCount', I(count(h[9]) + 1))
end
set('_nl', I(nl))
local uuid = uuid_of(m)
if action == 'finish' then
  set('_state', 'finished')
  set('_ix', ix_move(h[7], uuid, h[12], failed and 'failed' or 'succeeded'))
  local retention = tonumber(ARGV[6])
  if retention > 0 then expire_at(uuid, now + retention * 1000) end
  hset_args(job, first_field, #ARGV, extra)
  if has_parent then flow_notice(job, uuid, failed) end -- (flows: a child's end, for its parent)
  return done(cas + 1)
end
if action == 'park' then -- (flows: a parent waiting for its children)
  local state, ix = flow_park(job, h[7], uuid, h[12], m, h[11], h[13])
  set('_state', state)
  set('_ix', ix)
  hset_args(job, first_field, #ARGV, extra)
  return done(cas + 1)
end
if action == 'release' then
  set('_releases', I(count(h[10]) + 1))
  if outside then set('_prior', ARGV[10]) end
  local delay = tonumber(ARGV[5])
  if delay > 0 then
    redis.call('ZADD', p .. ':delayed', I(now + delay), m)
    due_by(now + delay)
    set('_state', 'delayed')
    set('_ix', ix_move(h[7], uuid, h[12], 'delayed'))
    signal() -- a waiting claimer learns when it will be ready
  else
    ready_add(h[7], h[13], h[11], m)
    set('_state', 'waiting')
    set('_ix', ix_move(h[7], uuid, h[12], 'waiting'))
    signal()
  end
else
  set('_state', 'buried')
  set('_ix', ix_move(h[7], uuid, h[12], 'buried'))
  set('_reason', ARGV[9])
  set('_buried_at', I(now))
  redis.call('ZADD', p .. ':buried', I(now), m)
end
hset_args(job, first_field, #ARGV, extra)
return done(cas + 1)
