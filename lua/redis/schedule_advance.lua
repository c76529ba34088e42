-- schedule_advance: moves schedule ARGV[1]'s next tick from ARGV[2] to ARGV[3] (ms) without a
-- job (skipped ticks). Returns 1, or 0 when its next tick is no longer ARGV[2].
local k = p .. ':schedule:' .. ARGV[1]
if redis.call('HGET', k, 'next') ~= ARGV[2] then return 0 end
redis.call('HSET', k, 'next', ARGV[3])
redis.call('ZADD', p .. ':schedules', ARGV[3], ARGV[1])
return 1
