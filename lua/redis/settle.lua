-- settle: ends a run (or, from outside, a job's wait or run: kill, a dead worker's release).
-- KEYS: {zq:Q}, the job, its events, warnings, errors lists. ARGV: lease token ('0' from outside:
-- any), writer, sequence, action (finish | release | bury), delay ms, retention s, event entry,
-- error entry, bury reason, prior (release from outside), outside (1 | 0), name, value, ...
-- Returns {1, cas}, {-1} no such job, {-2} the lease is not current, {-3} finished already.
local token, writer, seq, action = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local outside = ARGV[11] == '1'
local job = KEYS[2]
local wfield = '_w:' .. writer
local h = redis.call('HMGET', job, '_lease', '_state', '_m', 'cas', wfield, '_type')
if not h[4] then return { outside and -1 or -2 } end
if seq > 0 and tonumber(h[5] or '0') >= seq then return { 1, tonumber(h[4]) } end -- applied already
local m = h[3]
if outside then
  if h[2] == 'finished' then return { -3 } end
  if token ~= '0' and (h[2] ~= 'running' or h[1] ~= token) then return { -2 } end
  for _, z in ipairs({ ':reserved', ':delayed', ':buried', ':ready:' .. h[6] }) do
    redis.call('ZREM', p .. z, m)
  end
else
  if not fenced(h, token) then return { -2 } end
  redis.call('ZREM', p .. ':reserved', m)
end
local prior = tonumber(ARGV[10])
hset_args(job, 12, #ARGV, wfield, seq, '_lease', 0)
if not (outside and action == 'release' and prior ~= 0) then
  redis.call('HSET', job, 'running', 'false')
end
if ARGV[7] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[7]) end
if ARGV[8] ~= '' then
  redis.call('RPUSH', KEYS[5], ARGV[8])
  redis.call('HINCRBY', job, 'errorCount', 1)
end
if action == 'finish' then
  redis.call('HSET', job, '_state', 'finished')
  local retention = tonumber(ARGV[6])
  if retention > 0 then
    for i = 2, 5 do redis.call('EXPIRE', KEYS[i], retention) end
  end
elseif action == 'release' then
  redis.call('HINCRBY', job, '_releases', 1)
  if outside then redis.call('HSET', job, '_prior', prior) end
  local delay = tonumber(ARGV[5])
  if delay > 0 then
    redis.call('ZADD', p .. ':delayed', now + delay, m)
    redis.call('HSET', job, '_state', 'delayed')
  else
    make_ready(m, job)
    signal()
  end
else
  redis.call('HSET', job, '_state', 'buried', '_reason', ARGV[9], '_buried_at', now)
  redis.call('ZADD', p .. ':buried', now, m)
end
return { 1, redis.call('HINCRBY', job, 'cas', 1) }
