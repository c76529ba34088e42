-- The shared head of every ZeroG script on Redis (store_redis.c prepends it to each script).
--
-- Keys of queue Q all carry the hash tag {zq:Q}, so every script touches one slot:
--   {zq:Q}                 hash: seq (the id counter), clock (server ms of the last script),
--                          due (no delayed job is due and no lease lapses before this server ms;
--                          'none': nothing is delayed or reserved; absent: not known)
--   {zq:Q}:job:<uuid>      hash: the document's fields (JSON text each), cas, and the store's own
--                          fields (_type _pri _ttr _id _m _state _lease _dl (the lease's deadline)
--                          _reserves _timeouts _releases _prior _cprior _reason _buried_at
--                          _lc (the last lease handed out)
--                          _nl (which lists have entries: 1 events, 2 warnings, 4 errors)
--                          _w:<writer>); fields read by every step come first (submit sets
--                          them first), _timeouts is absent until set (absent reads as 0)
--   {zq:Q}:job:<uuid>:events | :warnings | :errors   lists of JSON entries
--   {zq:Q}:ready:<type>    zset score = priority, member = _m ("<id, 20 digits>:<uuid>"): equal
--                          priorities come out in id order, since Redis orders them by member
--   {zq:Q}:delayed         zset score = server ms when ready
--   {zq:Q}:reserved        zset score = server ms when the lease lapses
--   {zq:Q}:buried          zset score = server ms when buried
--   {zq:Q}:types           set of job types submitted; {zq:Q}:seen hash type -> last claim ms
--   {zq:Q}:signal          short list pushed when a job becomes ready (claimers BLPOP it)
--   {zq:Q}:claim:<writer>  the last claim of a writer (so a resent claim is applied once)
--   {zq:Q}:doc:<writer>    a copy of the hash of the job the writer claims, which it reads and
--                          deletes in the claim's round trip
--   {zq:Q}:ix:<state>:<type>  the index: one zset per state (waiting delayed running succeeded
--                          failed buried) and job type, all scores 0, ordered by member
--                          "<ms the job entered the state, 15 digits>:<uuid>"; a job is in the
--                          set of its state, and its field _ix is "<state> <member>"
--   {zq:Q}:expiry          zset score = server ms when a finished job's retention ends, member =
--                          uuid; due ones are deleted (document, lists, index entry) a few at a
--                          time by the steps that advance the queue; the queue's xdue field is
--                          the earliest score (early, never late), or 'none'
--   {zq:Q}:job:<uuid>:kids  flows: hash child uuid -> its info (JSON) for a parent; :kres hash
--                          child uuid -> its result (JSON), once delivered; the parent's _kfail
--                          names a fail_parent child that failed; :kearly hash child uuid ->
--                          failed (1 | 0) then result, the end of a child not registered (yet)
--   {zq:Q}:outbox          flows: zset score = server ms, member = a notice "<parent uuid>
--                          <child uuid> <failed: 1 | 0><result JSON>\n<parent queue>" left by
--                          the finish of a child of this queue, until a host hands it to the
--                          parent's slot; {zq:Q}:outbox:sent the notices handed over once, score
--                          = when to confirm them (outbox.lua), expiring as a whole
-- (the key zerog:queues, outside any queue's slot, is the set of queue names: the store adds
-- a queue's name in the round trip of its first submit)
-- KEYS[1] is always {zq:Q}. Time is the server's. Each redis.call costs a few microseconds of the
-- server's one thread, so the scripts read what they need with one HMGET and write with one HSET.
--
-- The prelude and every script are one Redis function library (store_redis.c builds it): the
-- prelude's functions are made once, when the library loads, not at every call (an EVALSHA with
-- the prelude in front cost 13.5 us of the server against 3.9 us for an FCALL). So the state of
-- one call lives in the locals below, which begin() sets at the start of every call: calls never
-- interleave (the server runs one at a time), and no call sees another's.
local KEYS, ARGV -- the call's keys and arguments
local p -- KEYS[1]
local now -- the server's time, ms
-- ms without any script on the queue that count as the store having stalled: live hosts run one
-- at least every second (renewals every min(TTR/3, 1 s), idle claimers' waits of at most 1 s)
local GAP = 1200
-- A lease of a shorter TTR lapses in a shorter stall: renewed every TTR/3, it lapses once no
-- renewal has come through for 2/3 of its TTR (a TTR under 1.8 s, in a stall shorter than GAP).
-- So for such a lease a stall is a gap of more than half its TTR, but at least STALL_MIN: the
-- queue's clock is written every 200 ms (a gap it measures may be 200 ms long with scripts all
-- along), and a host that stops renewing a lease of a tiny TTR must still lose it to the TTR
-- when nothing else runs on the queue. The queue keeps in its `gap` field the shortest of these
-- of any lease handed out on it: a gap under it needs no look at the leases.
local STALL_MIN = 500
local function stall_gap(ttr)
  return math.max(STALL_MIN, math.min(GAP, math.floor(ttr / 2)))
end

-- An integer as a redis.call argument: a Lua number passed as it is goes through "%.17g" on
-- the server (printf's float path, ~5k instructions each); "%d" costs a tenth of that.
local function I(n) return string.format('%d', n) end

local function jk(uuid) return p .. ':job:' .. uuid end
local function uuid_of(m) return string.sub(m, 22) end

local function signal()
  if redis.call('LLEN', p .. ':signal') < 16 then redis.call('RPUSH', p .. ':signal', 1) end
end

-- [limits] RATE, CONCURRENCY and GROUP (README "Rate limits, concurrency and groups"). Keys:
--   {zq:Q}:ready:<type>:g:<group>  the ready jobs of one group of a type with GROUP (as :ready:<type>)
--   {zq:Q}:groups:<type>   zset of the type's groups with ready jobs, score = turn: the lowest is
--                          served next; a group served, or joining, goes last
--   {zq:Q}:conc:<scope>    set of the uuids of the running jobs a concurrency limit counts
--   {zq:Q}:rate:<scope>    list of the server ms of the last (at most `limit`) starts a rate limit
--                          counts, newest first; it expires `per` after the last start
--   (<scope>: the job type, or * for a limit of the whole queue; then :<group> for a type with
--   GROUP.) A running job counted by a concurrency limit names its set in its field _cl; a job of
--   a type with GROUP has its group in _grp.
local function ready_key(jtype, grp)
  if grp then return p .. ':ready:' .. jtype .. ':g:' .. grp end
  return p .. ':ready:' .. jtype
end
-- Group grp of type jtype goes last in turn.
local function group_last(jtype, grp)
  local rr = p .. ':groups:' .. jtype
  local last = redis.call('ZRANGE', rr, '-1', '-1', 'WITHSCORES')
  redis.call('ZADD', rr, I(last[2] and tonumber(last[2]) + 1 or 0), grp)
end
-- A job becomes ready: into its type's ready set, or its group's (a group new to the turns last).
local function ready_add(jtype, grp, pri, m)
  if not grp then return redis.call('ZADD', p .. ':ready:' .. jtype, pri, m) end
  redis.call('ZADD', ready_key(jtype, grp), pri, m)
  if not redis.call('ZSCORE', p .. ':groups:' .. jtype, grp) then group_last(jtype, grp) end
end
-- A ready job leaves its set; taken by a claim, its group goes last in turn.
local function ready_rem(jtype, grp, m, taken)
  local k = ready_key(jtype, grp)
  redis.call('ZREM', k, m)
  if not grp then return end
  if redis.call('ZCARD', k) == 0 then
    redis.call('ZREM', p .. ':groups:' .. jtype, grp)
  elseif taken then
    group_last(jtype, grp)
  end
end
-- Job key `job` leaves running (any way: settle, lapse, unclaim, kill, delete): the concurrency
-- slot it held is free, once (a set member is removed once); a waiting claimer learns of it.
-- cl: its _cl field when the caller read it already (false: absent), nil to read it here.
local function free_slot(job, cl)
  if cl == nil then cl = redis.call('HGET', job, '_cl') end
  if not cl then return end
  redis.call('HDEL', job, '_cl')
  if redis.call('SREM', cl, string.sub(job, #p + 6)) == 1 then signal() end
end
-- [/limits]

-- One HSET of the pairs of the table front, ARGV[from..to] and the table extra, in that order
-- (several HSETs only past 3000 pairs: unpack has a limit). A new hash keeps its fields in the
-- order they were first set, and the server finds a field by walking them: the store's own
-- fields, read by every step, are best set first (front).
local function hset_args(key, from, to, extra, front)
  local n = to - from + 1
  if n + #extra + (front and #front or 0) <= 6000 then
    local all = front or {}
    for i = from, to do all[#all + 1] = ARGV[i] end
    for i = 1, #extra do all[#all + 1] = extra[i] end
    if #all > 0 then redis.call('HSET', key, unpack(all)) end
    return
  end
  if front then redis.call('HSET', key, unpack(front)) end
  local i = from
  while i <= to do
    local last = math.min(i + 999, to)
    redis.call('HSET', key, unpack(ARGV, i, last))
    i = last + 1
  end
  if #extra > 0 then redis.call('HSET', key, unpack(extra)) end
end

-- The index (see the key layout above).
local function ix_key(state, jtype) return p .. ':ix:' .. state .. ':' .. jtype end
local function ix_leave(jtype, ix)
  if not ix then return end
  local state, m = string.match(ix, '^(%a+) (.+)$')
  if state then redis.call('ZREM', ix_key(state, jtype), m) end
end
-- Moves a job of type jtype whose _ix is ix into the set of `state`; returns its new _ix.
local function ix_move(jtype, uuid, ix, state)
  ix_leave(jtype, ix)
  local m = string.format('%015d', now) .. ':' .. uuid
  redis.call('ZADD', ix_key(state, jtype), '0', m)
  return state .. ' ' .. m
end

local function make_ready(m, job)
  local h = redis.call('HMGET', job, '_type', '_pri', '_m', '_ix', '_grp')
  if not h[1] or h[3] ~= m then return end -- no such job (evicted, deleted): nothing to make ready
  ready_add(h[1], h[5], h[2], m)
  redis.call('HSET', job, '_state', 'waiting', '_ix', ix_move(h[1], uuid_of(m), h[4], 'waiting'))
end

-- a lease lapsed: its host stopped renewing for longer than the TTR
local function lapse(m)
  local job = jk(uuid_of(m))
  redis.call('ZREM', p .. ':reserved', m)
  local h = redis.call('HMGET', job, '_type', '_pri', '_timeouts', '_m', '_state', '_ix', '_grp', '_cl')
  if not h[1] or h[4] ~= m or h[5] ~= 'running' then return end -- gone, or not running: dropped
  free_slot(job, h[8])
  ready_add(h[1], h[7], h[2], m)
  redis.call('HSET', job, '_timeouts', tonumber(h[3] or '0') + 1, '_prior', 1, '_lease', 0,
             '_state', 'waiting', '_ix', ix_move(h[1], uuid_of(m), h[6], 'waiting'))
end

-- The queue's clock. A gap of more than a lease's stall_gap since the last script means the
-- store stalled (or no host was around): the leases renewed just before the gap began (their
-- hosts were alive, the store was not) get that time back instead of lapsing all at once. A
-- lease whose host had stopped renewing before the gap gets nothing: idle spells never keep a
-- dead host's job.
local queue_due -- the queue's due field as keep_time read it
local expiry_due -- its xdue field
local queue_gap -- its gap field: the shortest stall_gap of a lease handed out on the queue
local time_kept = false -- keep_time ran in this script: advance need not read the queue again
local function keep_time()
  time_kept = true
  local q = redis.call('HMGET', p, 'clock', 'due', 'xdue', 'gap')
  queue_due, expiry_due, queue_gap = q[2], q[3], tonumber(q[4]) or GAP
  local last = tonumber(q[1] or '0')
  if last > 0 and now - last > queue_gap then
    local all = redis.call('ZRANGE', p .. ':reserved', 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do
      local job = jk(uuid_of(all[i]))
      local h = redis.call('HMGET', job, '_rn', '_ttr')
      local renewed = tonumber(h[1] or '0') or 0
      if renewed >= last - 1500 and now - last > stall_gap(tonumber(h[2] or '0') or 0) then
        local deadline = tonumber(all[i + 1]) + (now - last)
        redis.call('ZADD', p .. ':reserved', deadline, all[i])
        redis.call('HSET', job, '_dl', deadline)
      end
    end
  end
  if now - last >= 200 then redis.call('HSET', p, 'clock', I(now)) end -- fresh enough for STALL_MIN
end

-- A lease of ttr ms was handed out: the queue's gap field must not be longer than its stall_gap.
local function gap_by(ttr)
  local g = stall_gap(ttr)
  if queue_gap == nil then queue_gap = tonumber(redis.call('HGET', p, 'gap')) or GAP end
  if g < queue_gap then
    queue_gap = g
    redis.call('HSET', p, 'gap', I(g))
  end
end

-- A job was put in :delayed or :reserved with score t: the queue's due field must not be later.
local function due_by(t)
  if queue_due == nil then queue_due = redis.call('HGET', p, 'due') end
  if queue_due and (queue_due == 'none' or t < tonumber(queue_due)) then
    queue_due = t
    redis.call('HSET', p, 'due', I(t))
  end
end

-- The earliest score of :delayed and :reserved, or 'none'
local function first_due()
  local first = 'none'
  for _, z in ipairs({ ':delayed', ':reserved' }) do
    local top = redis.call('ZRANGE', p .. z, '0', '0', 'WITHSCORES')
    if #top > 0 and (first == 'none' or tonumber(top[2]) < first) then first = tonumber(top[2]) end
  end
  return first
end

-- Where a job of state `state` (and group grp) waits, besides the index ('' for a finished one).
local function waits_in(state, jtype, grp)
  if state == 'waiting' then return ready_key(jtype, grp) end
  local z = ({ delayed = ':delayed', running = ':reserved', buried = ':buried' })[state]
  return z and p .. z or ''
end

-- The states of a job that hold its unique key, by its hold (submit, retry).
local HOLDS = {
  queued = { waiting = true, delayed = true, buried = true },
  running = { waiting = true, delayed = true, buried = true, running = true },
  until_done = { waiting = true, delayed = true, buried = true, running = true, succeeded = true },
}
-- The uuid of the job that holds unique key k under hold, or nil.
local function holder(k, hold)
  local uuid = redis.call('GET', k)
  if not uuid then return nil end
  local ix = redis.call('HGET', jk(uuid), '_ix')
  local state = ix and string.match(ix, '^(%a+)')
  if state and HOLDS[hold][state] then return uuid end
  return nil
end
-- Makes unique key k name job uuid, for ttl ms (0: no limit).
local function take_unique(k, uuid, ttl)
  if ttl > 0 then
    redis.call('SET', k, uuid, 'PX', I(ttl))
  else
    redis.call('SET', k, uuid)
  end
end

-- Deletes job uuid whatever its state: its document and lists, its queue entry, its index and
-- expiry entries. Returns whether there was such a job.
local function delete_job(uuid)
  local job = jk(uuid)
  local h = redis.call('HMGET', job, '_type', '_state', '_m', '_ix', '_uk', '_nl', '_grp', '_cl')
  redis.call('ZREM', p .. ':expiry', uuid)
  if not h[1] then return false end
  free_slot(job, h[8])
  ix_leave(h[1], h[4])
  if h[5] then -- its unique key goes with it (while it still names this job)
    local k = p .. ':unique:' .. h[5]
    if redis.call('GET', k) == uuid then redis.call('DEL', k) end
  end
  local z = waits_in(h[2], h[1], h[7])
  if z ~= '' and h[3] then redis.call('ZREM', z, h[3]) end
  -- one key a DEL, and only the lists it has (_nl bits 1, 2, 4): on a Redis Cluster node that is
  -- importing the queue's slot, a command over several keys of which one is missing is refused
  redis.call('DEL', job)
  local nl = tonumber(h[6] or '0') or 0
  for bit, list in pairs({ [1] = ':events', [2] = ':warnings', [4] = ':errors' }) do
    if math.floor(nl / bit) % 2 == 1 then redis.call('DEL', job .. list) end
  end
  redis.call('DEL', job .. ':kids') -- flows: a parent's children and their ends
  redis.call('DEL', job .. ':kres')
  redis.call('DEL', job .. ':kearly')
  return true
end

-- A finished job whose retention ends at ms `at`: listed in :expiry, the xdue field lowered.
local function expire_at(uuid, at)
  redis.call('ZADD', p .. ':expiry', I(at), uuid)
  if expiry_due == nil then expiry_due = redis.call('HGET', p, 'xdue') end
  if not expiry_due or expiry_due == 'none' or at < tonumber(expiry_due) then
    expiry_due = at
    redis.call('HSET', p, 'xdue', I(at))
  end
end

-- Deletes at most max jobs whose retention has ended; returns how many (xdue kept true).
local function sweep(max)
  if expiry_due == nil then expiry_due = redis.call('HGET', p, 'xdue') end
  if expiry_due == 'none' or (expiry_due and tonumber(expiry_due) > now) then return 0 end
  local due = redis.call('ZRANGEBYSCORE', p .. ':expiry', '-inf', I(now), 'LIMIT', '0', I(max))
  for _, uuid in ipairs(due) do delete_job(uuid) end
  local first = redis.call('ZRANGE', p .. ':expiry', '0', '0', 'WITHSCORES')
  expiry_due = first[2] and tonumber(first[2]) or 'none'
  redis.call('HSET', p, 'xdue', first[2] or 'none')
  return #due
end

-- How many expired jobs a step that advances the queue deletes, at most (a claim that finds
-- nothing ready deletes more: its host is idle)
local SWEEP_STEP, SWEEP_IDLE = 8, 100

-- Applies lapsed leases and due delays. Skipped while the queue's due field says nothing can
-- be due yet (the field may be early, never late: every ZADD to :delayed or :reserved lowers it
-- through due_by, and only a full pass here raises it).
local function advance()
  if not time_kept then keep_time() end
  sweep(SWEEP_STEP)
  if queue_due and queue_due ~= 'none' and tonumber(queue_due) > now then return end
  if queue_due == 'none' then return end
  local moved = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', p .. ':delayed', '-inf', I(now), 'LIMIT', '0', '1000')) do
    redis.call('ZREM', p .. ':delayed', m)
    make_ready(m, jk(uuid_of(m)))
    moved = moved + 1
  end
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', p .. ':reserved', '-inf', I(now), 'LIMIT', '0', '1000')) do
    lapse(m)
    moved = moved + 1
  end
  if moved > 0 then signal() end
  queue_due = first_due()
  redis.call('HSET', p, 'due', queue_due == 'none' and 'none' or I(queue_due))
end

-- Whether lease `token` is current on a job whose HMGET of _lease, _state, _m, _dl is h: it runs
-- under that lease and its deadline has not passed (a passed one is lapsed right here, unless
-- the store itself stalled).
local function fenced(h, token)
  if h[2] ~= 'running' or h[1] ~= token then return false end
  if tonumber(h[4] or '0') > now then return true end
  local last = tonumber(redis.call('HGET', p, 'clock') or now)
  local ttr = tonumber(redis.call('HGET', jk(uuid_of(h[3])), '_ttr') or '0') or 0
  if now - last > stall_gap(ttr) then
    keep_time()
    return true
  end
  lapse(h[3])
  signal()
  return false
end

local LIST_BITS = { events = 1, warnings = 2, errors = 4 }
local function has_list(nl, bit) return math.floor(tonumber(nl or '0') / bit) % 2 == 1 end

-- The lists of a document whose _nl is nl: {hash, events, warnings, errors} (only lists with
-- entries are read)
local function with_lists(job, hash, nl)
  local out = { hash }
  for i, name in ipairs({ 'events', 'warnings', 'errors' }) do
    out[i + 1] = has_list(nl, LIST_BITS[name]) and redis.call('LRANGE', job .. ':' .. name, 0, -1) or {}
  end
  return out
end

-- The whole document: {hash pairs, events, warnings, errors}
local function doc(job)
  local h = redis.call('HGETALL', job)
  local nl = 0
  for i = 1, #h, 2 do
    if h[i] == '_nl' then nl = h[i + 1] break end
  end
  return with_lists(job, h, nl)
end

-- ms until something of the queue may become ready (-1: nothing pending)
local function next_wait()
  local next = -1
  for _, z in ipairs({ ':delayed', ':reserved' }) do
    local first = redis.call('ZRANGE', p .. z, '0', '0', 'WITHSCORES')
    if #first > 0 then
      local wait = math.max(0, tonumber(first[2]) - now)
      if next < 0 or wait < next then next = wait end
    end
  end
  return next
end

-- A counter kept as a document field (JSON text): a number, or 0 when it is anything else.
local function count(v) return tonumber(v or '0') or 0 end

-- [limits] A claimed type's argument: its name, or "name\tspec" for a type with limits or GROUP:
-- returns the name and nil, or the name and {c, cq, r, rms, rq, g} (concurrency and whether it is
-- the queue's, rate, per ms and whether it is the queue's, grouped).
local function limits_of(arg)
  local name, c, cq, r, rms, rq, g = string.match(arg, '^([^\t]+)\t(%d+),(%d),(%d+),(%d+),(%d),(%d)$')
  if not name then return arg, nil end
  return name, { c = tonumber(c), cq = cq == '1', r = tonumber(r), rms = tonumber(rms), rq = rq == '1',
                 g = g == '1' }
end
local function limit_key(kind, jtype, queue_wide, grp)
  return p .. ':' .. kind .. ':' .. (queue_wide and '*' or jtype) .. (grp and ':' .. grp or '')
end
-- Whether concurrency set k counts fewer than n running jobs. At the limit, members no longer
-- running under k are dropped first (a slot is never lost to a path that did not free it).
local function conc_free(k, n)
  if redis.call('SCARD', k) < n then return true end
  local live = 0
  for _, uuid in ipairs(redis.call('SMEMBERS', k)) do
    local h = redis.call('HMGET', jk(uuid), '_state', '_cl')
    if h[1] == 'running' and h[2] == k then live = live + 1 else redis.call('SREM', k, uuid) end
  end
  return live < n
end
-- ms until a job of jtype (group grp) may start under lim: 0 now, -1 when a running one must end.
local function limit_wait(jtype, lim, grp)
  if lim.c > 0 and not conc_free(limit_key('conc', jtype, lim.cq, grp), lim.c) then return -1 end
  if lim.r == 0 then return 0 end
  local oldest = redis.call('LINDEX', limit_key('rate', jtype, lim.rq, grp), I(lim.r - 1))
  return oldest and math.max(0, tonumber(oldest) + lim.rms - now) or 0
end
-- A started job counts against lim: in the concurrency set while it runs, in the rate's list.
local function limits_take(jtype, lim, grp, uuid, job)
  if lim.c > 0 then
    local k = limit_key('conc', jtype, lim.cq, grp)
    redis.call('SADD', k, uuid)
    redis.call('HSET', job, '_cl', k)
  end
  if lim.r > 0 then
    local k = limit_key('rate', jtype, lim.rq, grp)
    redis.call('LPUSH', k, I(now))
    redis.call('LTRIM', k, '0', I(lim.r - 1))
    redis.call('PEXPIRE', k, I(lim.rms))
  end
end
-- The ms until a limited job may start, as the last most_urgent found (-1: none known).
local limit_wake = -1
local function wake_in(ms)
  if ms >= 0 and (limit_wake < 0 or ms < limit_wake) then limit_wake = ms end
end
-- ms until something of the queue may become ready or a limited job may start (-1: none)
local function soonest_wait()
  local wait = next_wait()
  if limit_wake >= 0 and (wait < 0 or limit_wake < wait) then wait = limit_wake end
  return wait
end

-- How many groups a claim looks at, in turn (those at their limits go last, so the next claim
-- sees the next ones), and how soon a claimer comes back when all it saw were at their limits.
local GROUP_SCAN, GROUP_SCAN_WAIT = 32, 100
-- The ready job of limited type jtype a claim may start now: member, score, group; or nil.
-- claiming: a claim (not a peek), which also tidies the turns.
local function limited_head(jtype, lim, claiming)
  if not lim.g then
    local top = redis.call('ZRANGE', p .. ':ready:' .. jtype, '0', '0', 'WITHSCORES')
    if not top[1] then return nil end
    local w = limit_wait(jtype, lim, nil)
    if w ~= 0 then wake_in(w) return nil end
    return top[1], tonumber(top[2]), nil
  end
  local rr = p .. ':groups:' .. jtype
  local groups = redis.call('ZRANGE', rr, '0', I(GROUP_SCAN - 1))
  local skipped, found = {}, nil
  for _, grp in ipairs(groups) do
    local top = redis.call('ZRANGE', ready_key(jtype, grp), '0', '0', 'WITHSCORES')
    if not top[1] then
      if claiming then redis.call('ZREM', rr, grp) end
    else
      local w = (lim.c > 0 or lim.r > 0) and limit_wait(jtype, lim, grp) or 0
      if w == 0 then
        found = { top[1], tonumber(top[2]), grp }
        break
      end
      wake_in(w)
      skipped[#skipped + 1] = grp
    end
  end
  if claiming then for _, grp in ipairs(skipped) do group_last(jtype, grp) end end
  if found then return found[1], found[2], found[3] end
  if #groups == GROUP_SCAN then wake_in(GROUP_SCAN_WAIT) end
  return nil
end
-- [/limits]

-- The most urgent ready job of the types ARGV[from..to]: member, score, type, group, limits (or
-- nil). A type with limits offers only a job it may start now (its group's turn first).
local function most_urgent(from, to, announce, claiming)
  local best, bscore, btype, bgrp, blim
  for i = from, to do
    local jtype, lim, m, score, grp = ARGV[i], nil, nil, nil, nil
    if string.find(jtype, '\t', 1, true) then jtype, lim = limits_of(jtype) end
    if lim then
      m, score, grp = limited_head(jtype, lim, claiming)
    else
      local top = redis.call('ZRANGE', p .. ':ready:' .. jtype, '0', '0', 'WITHSCORES')
      m, score = top[1], top[1] and tonumber(top[2])
    end
    if m and (not best or score < bscore or (score == bscore and m < best)) then
      best, bscore, btype, bgrp, blim = m, score, jtype, grp, lim
    end
    if announce then redis.call('HSET', p .. ':seen', jtype, I(now)) end
  end
  return best, bscore, btype, bgrp, blim
end

-- Claims the most urgent ready job of the types ARGV[from..to] and starts its run: a new lease,
-- running = true, cas + 1, its TTR running. Returns {1, uuid, prior, document} or {0, ms to
-- wait}. A writer's last claim is kept in {zq:Q}:claim:<writer> ("seq lease uuid", for a
-- minute or the job's TTR if longer), so a claim resent after a lost reply is answered with the
-- job it took (written and read back in one SET ... GET: a resend is rare, and only then is the
-- record put back), and the supervisor of a host killed with its claim on the way puts back the
-- job it took (zg_put_back_claims: within the TTR, the lease it handed out is still current). A
-- writer's sequence numbers grow: a claim with a lower one than its memo's is from the past (sent
-- before a claim the writer made since, or before the writer closed its unanswered claims,
-- close_claims.lua, and held up on the way) and takes nothing.
-- A memo a close wrote (close_claims.lua) ends in ' c' and is kept 15 minutes, and so is every
-- later memo of its writer here (they carry the mark on): else the next claim would cut them to
-- a minute and a lost claim still on the way past that (TCP resends for up to 15) would take a
-- job after all, once the writer's memo here expired with the queue idle. (Only a claim after a
-- close pays for it: the mark is seen in what SET ... GET returns.)
local CLOSED_KEPT = '900000'
local function closed(memo) return memo and string.sub(memo, -2) == ' c' end
local function claim_kept(ttr) return I(math.max(60000, count(ttr))) end
-- A new lease's token: never the job's last one, and otherwise another claim's only by the
-- chance of a 52-bit collision, drawn from this claim (its writer, sequence number and time) and
-- the job's last lease, not counted on from that one: a
-- claim the store acknowledged and then lost (a failover to a replica it had not reached, a
-- restart from an older snapshot) would hand the next claimer the same token, and the first
-- host's writes would land on the second one's run. (52 bits: exact in a double, and in JSON.)
local function new_lease(writer, seq, uuid, last)
  local digest = redis.sha1hex(writer .. ' ' .. seq .. ' ' .. uuid .. ' ' .. I(now) .. ' ' .. last)
  local lease = tonumber(string.sub(digest, 1, 13), 16)
  if lease == 0 or I(lease) == last then lease = lease + 1 end
  return lease
end

local function claim_job(writer, seq, announce, from, to)
  local claim_key = p .. ':claim:' .. writer
  -- a resent claim: answered again only while the lease it handed out is still the current one
  local function resent(last)
    if not last then return nil end
    -- a claim from the past: its writer has claimed here since, or closed it unanswered
    -- (close_claims.lua); it takes nothing
    local ls = string.match(last, '^(%d+) ')
    if ls and tonumber(ls) > tonumber(seq) then
      redis.call('SET', claim_key, last, 'PX', CLOSED_KEPT)
      return { 0, 0 }
    end
    local s, lease, uuid = string.match(last, '^(%d+) (%d+) (%S+)')
    if s ~= seq then return nil end
    local job = jk(uuid)
    local h = redis.call('HMGET', job, '_state', '_cprior', '_lease', '_ttr')
    redis.call('SET', claim_key, last, 'PX', closed(last) and CLOSED_KEPT or claim_kept(h[4]))
    if h[1] == 'running' and h[3] == lease then return { 1, uuid, tonumber(h[2]), doc(job) } end
    return { 0, 0 }
  end
  -- the most urgent ready job (a member whose job is gone, evicted or deleted, is dropped)
  local m, jtype, uuid, job, h, grp, lim
  for _ = 1, 100 do
    m, _, jtype, grp, lim = most_urgent(from, to, announce, true)
    if not m then
      if seq ~= '0' then
        local again = resent(redis.call('GET', claim_key))
        if again then return again end
      end
      -- an idle claimer deletes expired jobs; when more are due, it is told to come back at once
      if sweep(SWEEP_IDLE) == SWEEP_IDLE then return { 0, 0 } end
      return { 0, soonest_wait() }
    end
    uuid = uuid_of(m)
    job = jk(uuid)
    h = redis.call('HMGET', job, 'running', '_prior', '_ttr', '_reserves', 'cas', '_m', '_lc',
                   '_nl', '_ix')
    if h[3] and h[6] == m then break end
    ready_rem(jtype, grp, m)
    m = nil
  end
  if not m then return { 0, 0 } end
  local reserves = count(h[4]) + 1
  local lease = new_lease(writer, seq, uuid, h[7] or '0')
  if seq ~= '0' then
    local memo = seq .. ' ' .. I(lease) .. ' ' .. uuid
    local last = redis.call('SET', claim_key, memo, 'PX', claim_kept(h[3]), 'GET')
    local again = resent(last)
    if again then return again end
    if closed(last) then redis.call('SET', claim_key, memo .. ' c', 'PX', CLOSED_KEPT) end
  end
  ready_rem(jtype, grp, m, true)
  if lim then limits_take(jtype, lim, grp, uuid, job) end
  local prior = 0
  if h[1] == 'true' then
    prior = tonumber(h[2] or '0')
    if prior == 0 then prior = 2 end -- found running: its host died
  end
  local deadline = now + count(h[3])
  local lease_s, deadline_s = I(lease), I(deadline)
  redis.call('HSET', job, '_lease', lease_s, '_lc', lease_s, '_reserves', I(reserves), '_state',
             'running', 'running', 'true', '_prior', '0', '_cprior', I(prior), '_dl', deadline_s,
             '_rn', I(now), 'cas', I(count(h[5]) + 1), '_ix', ix_move(jtype, uuid, h[9], 'running'))
  redis.call('ZADD', p .. ':reserved', deadline_s, m)
  due_by(deadline)
  gap_by(count(h[3]))
  -- The document's hash goes back through a copy the caller reads with a plain HGETALL and
  -- deletes in the same round trip (a hash returned through Lua costs the server about four
  -- times as much: every field is made a Lua string and back). The copy is the writer's own; it
  -- expires in a minute should its caller's connection break before the DEL.
  -- (COPY onto a key that exists: a Redis Cluster node importing the queue's slot refuses a
  -- command over several keys when one of them is missing)
  local copy = p .. ':doc:' .. writer
  redis.call('HSET', copy, '_', '')
  redis.call('COPY', job, copy, 'REPLACE')
  redis.call('PEXPIRE', copy, '60000')
  return { 1, uuid, prior, with_lists(job, false, h[8]) }
end

-- ---- flows (a parent waiting for its children) ----
-- A finished job that is some parent's child leaves a notice of its end in the queue's outbox
-- (its host hands it to the parent's slot next: deliver.lua). Called after the finish's HSET.
local function flow_notice(job, uuid, failed)
  local f = redis.call('HMGET', job, 'parentUuid', 'parentQueue', 'resultCode', 'result', '_nl')
  local pu, pq = f[1] and string.match(f[1], '^"(.+)"$'), f[2] and string.match(f[2], '^"(.+)"$')
  if not pu or not pq then return end
  local last = has_list(f[5], 4) and redis.call('LINDEX', job .. ':errors', -1) or 'null'
  local result = '{"resultCode":' .. (f[3] or 'null') .. ',"failed":' .. (failed and 'true' or 'false')
    .. ',"result":' .. (f[4] or 'null') .. ',"lastError":' .. (last or 'null') .. '}'
  redis.call('ZADD', p .. ':outbox', I(now),
             pu .. ' ' .. uuid .. ' ' .. (failed and '1' or '0') .. result .. '\n' .. pq)
end

-- Records the end of child cu (result: JSON; failed: a boolean) for the parent job (its hash key)
-- that registered it with info, into its :kres hash kres.
local function flow_record(job, kres, cu, result, failed, info)
  redis.call('HSET', kres, cu, result)
  if failed and string.find(info, '"onFailure":"fail_parent"', 1, true) then
    redis.call('HSET', job, '_kfail', cu)
  end
end

-- Whether the parent job (its hash key) may run again: every registered child has its result,
-- or a fail_parent child failed (_kfail: the last one; flowFailedSeen: the one its 424 named).
local function flow_ready(job)
  -- (a failure the job has ended with 424 already, and was then retried, does not count)
  local f = redis.call('HMGET', job, '_kfail', 'flowFailedSeen')
  if f[1] and f[2] ~= '"' .. f[1] .. '"' then return true end
  return redis.call('HLEN', job .. ':kres') >= redis.call('HLEN', job .. ':kids')
end

-- Parks the job of member m (type jtype, priority pri, index entry ix) or, when its children are
-- all done already, makes it waiting; returns its new _state and _ix.
local function flow_park(job, jtype, uuid, ix, m, pri, grp)
  if flow_ready(job) then
    ready_add(jtype, grp, pri, m)
    signal()
    return 'waiting', ix_move(jtype, uuid, ix, 'waiting')
  end
  return 'parked', ix_move(jtype, uuid, ix, 'parked')
end
-- ---- end of flows ----

-- The start of every call: its keys, arguments and time, and the per-call state of the
-- functions above reset.
local function begin(keys, argv)
  KEYS, ARGV, p = keys, argv, keys[1]
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  queue_due, expiry_due, queue_gap, time_kept, limit_wake = nil, nil, nil, false, -1
end
