-- counts: {waiting, delayed, running, buried, unclaimed} of the queue; unclaimed counts the
-- waiting jobs of types no claim has asked for in the last 15 s.
advance()
local waiting, unclaimed = 0, 0
local seen = redis.call('HGETALL', p .. ':seen')
local asked = {}
for i = 1, #seen, 2 do asked[seen[i]] = tonumber(seen[i + 1]) end
for _, jtype in ipairs(redis.call('SMEMBERS', p .. ':types')) do
  local n = redis.call('ZCARD', ix_key('waiting', jtype)) -- (a type with GROUP waits in several sets)
  waiting = waiting + n
  if not asked[jtype] or asked[jtype] < now - 15000 then unclaimed = unclaimed + n end
end
return { waiting, redis.call('ZCARD', p .. ':delayed'), redis.call('ZCARD', p .. ':reserved'),
         redis.call('ZCARD', p .. ':buried'), unclaimed }
