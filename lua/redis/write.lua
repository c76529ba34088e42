-- write: a change to a job's document. KEYS: {zq:Q}, the job, the list (append). ARGV: kind
-- (update | save | append), lease token ('' outside a run), writer, sequence, known or
-- expected cas, entry (append), count field (append, '' for none), list name (append), the
-- sequence number of the run's last acknowledged write (0: none, or outside a run), then
-- name, value, ... Returns {1, cas} or {1, cas, document} when the stored cas was not the one
-- known; {0, cas} on a save's cas mismatch; {-1} no such job; {-2} the lease is not current;
-- {-4} this server does not hold the run's last acknowledged write (a replica promoted before
-- it had it: the host writes the run's writes again, then this one).
local kind, token, writer, seq = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local job = KEYS[2]
local wfield = '_w:' .. writer
local h = redis.call('HMGET', job, '_lease', '_state', '_m', '_dl', 'cas', wfield, '_nl')
if not h[5] then return { token ~= '' and -2 or -1 } end
local cas = count(h[5])
if seq > 0 and tonumber(h[6] or '0') >= seq then return { 1, cas } end -- applied before, reply lost
if token ~= '' and not fenced(h, token) then return { -2 } end
local chain = tonumber(ARGV[9])
if chain > 0 and tonumber(h[6] or '0') < chain then return { -4 } end
local known = tonumber(ARGV[5])
if kind == 'save' and cas ~= known then return { 0, cas } end
local extra = { 'cas', I(cas + 1) }
if seq > 0 then extra[3], extra[4] = wfield, ARGV[4] end
if kind == 'append' then
  redis.call('RPUSH', KEYS[3], ARGV[6]) -- (deleted with the job when its retention ends)
  local bit = LIST_BITS[ARGV[8]]
  if not has_list(h[7], bit) then
    extra[#extra + 1], extra[#extra + 2] = '_nl', I(tonumber(h[7] or '0') + bit)
  end
  if ARGV[7] ~= '' then -- a counter field (errorCount): whatever it holds, it counts on from it
    extra[#extra + 1], extra[#extra + 2] = ARGV[7], I(count(redis.call('HGET', job, ARGV[7])) + 1)
  end
end
hset_args(job, 10, #ARGV, extra)
if cas ~= known and kind ~= 'save' then return { 1, cas + 1, doc(job) } end
return { 1, cas + 1 }
