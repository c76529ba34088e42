-- outbox (flows): the notices of children's ends left in queue KEYS[1] (see deliver.lua) that
-- are at least ARGV[1] ms old, at most 100, oldest first.
return redis.call('ZRANGEBYSCORE', p .. ':outbox', '-inf', I(now - tonumber(ARGV[1])), 'LIMIT', '0',
                  '100')
