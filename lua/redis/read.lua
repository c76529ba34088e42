-- read: the whole document of job KEYS[2], or false (a job whose retention has ended is deleted
-- here, if no step has yet).
local e = redis.call('HMGET', KEYS[2], '_state', '_ix')
if not e[1] then return false end
if e[1] == 'finished' then
  local at = redis.call('ZSCORE', p .. ':expiry', string.sub(KEYS[2], #p + 6))
  if at and tonumber(at) <= now then
    delete_job(string.sub(KEYS[2], #p + 6))
    return false
  end
end
return doc(KEYS[2])
