-- touch: renews lease ARGV[1] of job KEYS[2] for its TTR. Returns 1, or 0 when the lease is
-- no longer current.
keep_time()
local job = KEYS[2]
local h = redis.call('HMGET', job, '_lease', '_state', '_m', '_dl', '_ttr')
if not fenced(h, ARGV[1]) then return 0 end
local deadline = now + tonumber(h[5])
local deadline_s = I(deadline)
redis.call('ZADD', p .. ':reserved', deadline_s, h[3])
redis.call('HSET', job, '_dl', deadline_s, '_rn', I(now))
return 1
