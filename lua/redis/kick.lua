-- kick: up to ARGV[1] (0: all) buried jobs back to waiting; when none is buried, delayed jobs
-- ready now. Returns how many moved.
advance()
local stop = tonumber(ARGV[1]) - 1
local from = ':buried'
if redis.call('ZCARD', p .. from) == 0 then from = ':delayed' end
local moved = redis.call('ZRANGE', p .. from, 0, stop)
for _, m in ipairs(moved) do
  redis.call('ZREM', p .. from, m)
  local job = jk(uuid_of(m))
  if from == ':buried' then redis.call('HDEL', job, '_reason', '_buried_at') end
  make_ready(m, job)
end
if #moved > 0 then signal() end
return #moved
