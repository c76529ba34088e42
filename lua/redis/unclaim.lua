-- unclaim: puts back a job that a claim took and whose host will not run it after all (a job
-- claimed with a settle, when the host then stops, drains or reloads): waiting again in its
-- place, its running flag and the prior run's outcome as before the claim, the reserve taken
-- back, no release counted. KEYS: {zq:Q}, the job. ARGV: lease token. Returns 1, or 0 when that
-- lease is no longer current.
local job = KEYS[2]
local h = redis.call('HMGET', job, '_lease', '_state', '_m', '_dl', '_type', '_pri', '_cprior',
                     'cas', '_reserves', '_ix', '_grp', '_cl')
if not fenced(h, ARGV[1]) then return 0 end
redis.call('ZREM', p .. ':reserved', h[3])
free_slot(job, h[12]) -- [limits]
ready_add(h[5], h[11], h[6], h[3])
local prior = count(h[7])
redis.call('HSET', job, '_lease', '0', '_state', 'waiting', 'running', prior ~= 0 and 'true' or 'false',
           '_prior', I(prior), 'cas', I(count(h[8]) + 1), '_reserves', I(math.max(0, count(h[9]) - 1)),
           '_ix', ix_move(h[5], uuid_of(h[3]), h[10], 'waiting'))
signal()
return 1
