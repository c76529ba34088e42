-- types: per job type of the queue, {type, waiting, delayed, running, succeeded, failed, buried,
-- parked}
-- (the sizes of its index sets); a type with no job is left out.
advance()
local out = {}
local states = { 'waiting', 'delayed', 'running', 'succeeded', 'failed', 'buried', 'parked' }
for _, jtype in ipairs(redis.call('SMEMBERS', p .. ':types')) do
  local row = { jtype }
  local any = 0
  for i, state in ipairs(states) do
    row[i + 1] = redis.call('ZCARD', ix_key(state, jtype))
    any = any + row[i + 1]
  end
  if any > 0 then out[#out + 1] = row end
end
return out
