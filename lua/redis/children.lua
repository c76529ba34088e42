-- children (flows): a parent's children. KEYS: {zq:Q}, the parent's :kids and :kres hashes.
-- Returns {info, result or '', ...} (JSON text each).
local out = {}
local kids = redis.call('HGETALL', KEYS[2])
for i = 1, #kids, 2 do
  out[#out + 1] = kids[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[3], kids[i]) or ''
end
return out
