-- state: {state, id, priority, reserves, timeouts, releases, lease, ms left} of job KEYS[2],
-- or false.
local h = redis.call('HMGET', KEYS[2], '_state', '_id', '_pri', '_reserves', '_timeouts',
                     '_releases', '_lease', '_m')
if not h[1] then return false end
local left = 0
local z = ({ delayed = ':delayed', running = ':reserved' })[h[1]]
if z then left = math.max(0, tonumber(redis.call('ZSCORE', p .. z, h[8]) or now) - now) end
return { h[1], count(h[2]), count(h[3]), count(h[4]), count(h[5]), count(h[6]), count(h[7]), left }
