-- children (flows): a parent's children, read in bounded steps. KEYS: {zq:Q}, the parent's :kids
-- and :kres hashes. ARGV[1] 'list': {uuid, info, length of its end's text (0: not ended), ...};
-- 'ends' with uuids in ARGV[2..]: their ends' texts ('' for one not ended), in that order. The
-- host asks for the ends a few MiB at a time, so that no reply outlasts the store timeout.
if ARGV[1] == 'list' then
  local out = {}
  local kids = redis.call('HGETALL', KEYS[2])
  for i = 1, #kids, 2 do
    out[#out + 1] = kids[i]
    out[#out + 1] = kids[i + 1]
    out[#out + 1] = redis.call('HSTRLEN', KEYS[3], kids[i])
  end
  return out
end
local out = {}
for i = 2, #ARGV do out[#out + 1] = redis.call('HGET', KEYS[3], ARGV[i]) or '' end
return out
