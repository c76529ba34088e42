-- outbox (flows): the server's time (ms) and then the notices of children's ends left in queue
-- KEYS[1] (see deliver.lua) that are at least ARGV[1] ms old, at most 100, oldest first. A
-- notice delivered and not yet confirmed has a score in the future (the deliverer's re-score),
-- so it comes back only for its confirming delivery.
local notices = redis.call('ZRANGEBYSCORE', p .. ':outbox', '-inf', I(now - tonumber(ARGV[1])),
                           'LIMIT', '0', '100')
table.insert(notices, 1, now)
return notices
