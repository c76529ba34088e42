-- read: the whole document of job KEYS[2], or false.
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
return doc(KEYS[2])
