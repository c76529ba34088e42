-- schedule_fire: the head of the script that makes a schedule's job: store_redis.c runs it with
-- submit.lua after it, as one script. ARGV: schedule id, its tick (ms), the next tick (ms), then
-- submit's arguments for one job. While the schedule's next tick is the one given, it becomes the
-- next one and the job is created (the tick is taken: one job per tick across hosts); else
-- nothing changes and the reply is {{-1, 0}}.
local sk = p .. ':schedule:' .. ARGV[1]
if redis.call('HGET', sk, 'next') ~= ARGV[2] then return { { -1, 0 } } end
redis.call('HSET', sk, 'next', ARGV[3], 'last', ARGV[2])
redis.call('ZADD', p .. ':schedules', ARGV[3], ARGV[1])
for _ = 1, 3 do table.remove(ARGV, 1) end
