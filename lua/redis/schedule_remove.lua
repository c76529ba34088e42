-- schedule_remove: deletes schedule ARGV[1] of the queue. Returns 1, or 0 when there was none.
redis.call('ZREM', p .. ':schedules', ARGV[1])
return redis.call('DEL', p .. ':schedule:' .. ARGV[1])
