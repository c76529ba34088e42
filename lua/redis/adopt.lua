-- adopt (flows): registers children of a parent before they are submitted, so that each of
-- their ends counts for it. KEYS: {zq:Q}, the parent's job hash, its :kids hash. ARGV: lease
-- token ('0': from outside a run, as for a batch's callback that is not yet submitted), n, then
-- per child: uuid, info (JSON). A child registered already is left as it is. Returns 1, or 0
-- when the token is not the parent's current lease.
if ARGV[1] ~= '0' then
  local h = redis.call('HMGET', KEYS[2], '_lease', '_state', '_m', '_dl')
  if not fenced(h, ARGV[1]) then return 0 end
end
for i = 3, 2 + 2 * tonumber(ARGV[2]), 2 do
  redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1])
end
return 1
