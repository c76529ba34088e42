-- schedule_put: writes schedule ARGV[1] of the queue (type, rule, tz, params, catch_up, next
-- tick ms: ARGV[2..7]) unless it holds the same type, rule, tz, params and catch_up already (then
-- it stays as it is, its next tick too). Returns 1 when written, 0 when kept.
--   {zq:Q}:schedule:<id>   hash: type rule tz params catch_up next last (ms; last 0: none)
--   {zq:Q}:schedules       zset score = the next tick (ms), member = id
local id = ARGV[1]
local k = p .. ':schedule:' .. id
local old = redis.call('HMGET', k, 'type', 'rule', 'tz', 'params', 'catch_up', 'last')
if old[1] == ARGV[2] and old[2] == ARGV[3] and old[3] == ARGV[4] and old[4] == ARGV[5]
    and old[5] == ARGV[6] then
  return 0
end
redis.call('HSET', k, 'type', ARGV[2], 'rule', ARGV[3], 'tz', ARGV[4], 'params', ARGV[5],
           'catch_up', ARGV[6], 'next', ARGV[7], 'last', old[6] or '0')
redis.call('ZADD', p .. ':schedules', ARGV[7], id)
return 1
