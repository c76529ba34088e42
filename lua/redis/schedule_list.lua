-- schedule_list: the schedules of the queue (ARGV[1] '1': only those due by the server's time,
-- at most 100). Returns {now, the earliest next tick after now (0: none), {id, type, rule, tz,
-- params, catch_up, next, last}, ...}.
local z = p .. ':schedules'
local ids
if ARGV[1] == '1' then
  ids = redis.call('ZRANGEBYSCORE', z, '-inf', I(now), 'LIMIT', 0, 100)
else
  ids = redis.call('ZRANGE', z, 0, -1)
end
local after = redis.call('ZRANGEBYSCORE', z, '(' .. I(now), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
local out = { I(now), after[2] or '0' }
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', p .. ':schedule:' .. id, 'type', 'rule', 'tz', 'params',
                       'catch_up', 'next', 'last')
  if h[1] then
    out[#out + 1] = { id, h[1], h[2], h[3], h[4], h[5], h[6], h[7] }
  end
end
return out
