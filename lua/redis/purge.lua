-- purge: deletes at most ARGV[4] finished jobs, oldest first. ARGV: the states (succeeded and/or
-- failed, separated by spaces), the job type ('' for every type), the age in ms (jobs that
-- finished at least that long ago by the server's clock, the one their index entries carry; ''
-- for any), the batch's size. Returns the uuids deleted (fewer than the batch's size: nothing
-- more matches).
local max = tonumber(ARGV[4])
local types = ARGV[2] ~= '' and { ARGV[2] } or redis.call('SMEMBERS', p .. ':types')
local hi = ARGV[3] ~= '' and '(' .. string.format('%015d', now - tonumber(ARGV[3])) or '+'
local out = {}
for state in string.gmatch(ARGV[1], '%a+') do
  if state ~= 'succeeded' and state ~= 'failed' then return redis.error_reply('ERR purge: not a finished state') end
  for _, jtype in ipairs(types) do
    if #out >= max then break end
    local ms = redis.call('ZRANGE', ix_key(state, jtype), '-', hi, 'BYLEX', 'LIMIT', '0', I(max - #out))
    for _, m in ipairs(ms) do
      local uuid = string.sub(m, 17)
      if not delete_job(uuid) then redis.call('ZREM', ix_key(state, jtype), m) end
      out[#out + 1] = uuid
    end
  end
end
return out
