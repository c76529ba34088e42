-- retry: a failed job back to waiting (by hand). KEYS: {zq:Q}, the job, its events list. ARGV:
-- writer, sequence, the event entry, then name, value, ... (its fields: resultCode, ...).
-- Returns the job's cas (retried: its pointer by uuid is kept for good as of that cas, see
-- pointer.lua), -1 (no such job), -3 (not failed) or the uuid of the job that holds its unique
-- key (not retried: two queued jobs would hold one key); retried, it takes its key again.
local job = KEYS[2]
local writer, seq = ARGV[1], tonumber(ARGV[2])
local wfield = '_w:' .. writer
local h = redis.call('HMGET', job, '_state', '_ix', '_type', '_pri', '_m', 'cas', '_nl', wfield,
                     '_uk', '_uh', '_ut', '_grp')
if not h[1] then return -1 end
if seq > 0 and tonumber(h[8] or '0') >= seq then return count(h[6]) end -- applied before, reply lost
if h[1] ~= 'finished' or string.sub(h[2] or '', 1, 7) ~= 'failed ' then return -3 end
local uuid = uuid_of(h[5])
if h[9] then
  local k = p .. ':unique:' .. h[9]
  local held = holder(k, h[10] or 'queued')
  if held and held ~= uuid then return held end
  take_unique(k, uuid, tonumber(h[11] or '0'))
end
redis.call('ZREM', p .. ':expiry', uuid)
ready_add(h[3], h[12], h[4], h[5])
redis.call('RPUSH', KEYS[3], ARGV[3])
local extra = { '_state', 'waiting', '_ix', ix_move(h[3], uuid, h[2], 'waiting'), '_lease', '0',
                '_prior', '0', 'running', 'false', 'cas', I(count(h[6]) + 1),
                '_nl', I(has_list(h[7], 1) and count(h[7]) or count(h[7]) + 1) }
if seq > 0 then extra[#extra + 1], extra[#extra + 2] = wfield, ARGV[2] end
hset_args(job, 4, #ARGV, extra)
signal()
return count(h[6]) + 1
