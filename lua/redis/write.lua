-- write: a change to a job's document. KEYS: {zq:Q}, the job, the list (append). ARGV: kind
-- (update | save | append), lease token ('' outside a run), writer, sequence, known or
-- expected cas, entry (append), count field (append, '' for none), then name, value, ...
-- Returns {1, cas} or {1, cas, document} when the stored cas was not the one known; {0, cas}
-- on a save's cas mismatch; {-1} no such job; {-2} the lease is no longer current.
local kind, token, writer, seq = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local job = KEYS[2]
local wfield = '_w:' .. writer
local h = redis.call('HMGET', job, '_lease', '_state', '_m', 'cas', wfield)
if not h[4] then return { token ~= '' and -2 or -1 } end
local cas = tonumber(h[4])
if seq > 0 and tonumber(h[5] or '0') >= seq then return { 1, cas } end -- applied before its reply was lost
if token ~= '' and not fenced(h, token) then return { -2 } end
local known = tonumber(ARGV[5])
if kind == 'save' and cas ~= known then return { 0, cas } end
if kind == 'append' then
  redis.call('RPUSH', KEYS[3], ARGV[6])
  local ttl = redis.call('PTTL', job)
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
  if ARGV[7] ~= '' then redis.call('HINCRBY', job, ARGV[7], 1) end
end
hset_args(job, 8, #ARGV, wfield, seq)
local new = redis.call('HINCRBY', job, 'cas', 1)
if cas ~= known and kind ~= 'save' then return { 1, new, doc(job) } end
return { 1, new }
