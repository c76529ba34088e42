-- deliver (flows): hands a child's end to its parent, on the parent's slot (the child's finish
-- left the notice in its own queue's outbox). KEYS: {zq:Q}, the parent's job hash, its :kids,
-- :kres and :kearly hashes. ARGV: child uuid, its end (JSON), failed (1 | 0). Idempotent: a result
-- recorded already changes nothing (a notice delivered twice). When this makes the parent's
-- children all done (or a fail_parent child failed), a parked parent is waiting again. The end
-- of a child the parent has not registered is kept in :kearly for its registration (adopt.lua):
-- the parent's adopt was acknowledged and then lost in a failover of its slot while the child
-- ran, and the parent's next run registers it again; a child's first end is the one kept, as
-- for a registered child. Returns 1 when the end was new here (recorded or kept), 0 when the
-- parent had it already or is gone (nothing is written for a parent that is gone): the outbox
-- keeps a notice until a later delivery returns 0 (outbox.lua), so an end this slot
-- acknowledged and then lost in a failover is delivered again.
local cu = ARGV[1]
if redis.call('HEXISTS', KEYS[4], cu) == 1 or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local info = redis.call('HGET', KEYS[3], cu)
if not info then return redis.call('HSETNX', KEYS[5], cu, ARGV[3] .. ARGV[2]) end
flow_record(KEYS[2], KEYS[4], cu, ARGV[2], ARGV[3] == '1', info)
local h = redis.call('HMGET', KEYS[2], '_state', '_type', '_pri', '_m', '_ix', 'cas', '_grp')
if h[1] ~= 'parked' or not flow_ready(KEYS[2]) then return 1 end
ready_add(h[2], h[7], h[3], h[4])
redis.call('HSET', KEYS[2], '_state', 'waiting', '_ix', ix_move(h[2], uuid_of(h[4]), h[5], 'waiting'),
           'cas', I(count(h[6]) + 1))
signal()
return 1
