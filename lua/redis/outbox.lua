-- outbox (flows): the notices of children's ends of queue KEYS[1] (see deliver.lua) on their way
-- to their parents' slots. A notice is in :outbox until a host hands it over once, then in
-- :outbox:sent until a later hand-over, made after its confirmation time, finds that the parent
-- had it: an end the parent's slot acknowledged and then lost in a failover (to a replica it had
-- not reached) is handed over again. :outbox:sent is only that insurance: it expires as a whole
-- SENT_KEPT ms after its last change, for the notices of a queue no host serves any more.
-- ARGV[1] 'read', ARGV[2] age (ms): {the notices of :outbox at least age old, those of
-- :outbox:sent due since at least age}, at most 100 each, oldest first; 'read new': the same
-- with no notice of :outbox:sent (the hand-over right after a settle leaves the confirmations
-- to the hosts' idle re-sends).
-- ARGV[1] 'handed', ARGV[2] 'outbox' | 'sent' (where it was read), ARGV[3] the notice, ARGV[4]
-- '1' when the hand-over was new to the parent, ARGV[5] the confirmation delay (ms): a notice
-- from :outbox goes to :outbox:sent (whatever the answer: an answer "known" may be another
-- host's hand-over of a moment ago); one from :outbox:sent is due again when it was new (it had
-- been lost), else it goes. A notice another host moved or removed since it was read is left.
local outbox, sent = p .. ':outbox', p .. ':outbox:sent'
local SENT_KEPT = '600000'
if ARGV[1] == 'read' or ARGV[1] == 'read new' then
  local upto = I(now - tonumber(ARGV[2]))
  return { redis.call('ZRANGEBYSCORE', outbox, '-inf', upto, 'LIMIT', '0', '100'),
           ARGV[1] == 'read' and redis.call('ZRANGEBYSCORE', sent, '-inf', upto, 'LIMIT', '0', '100')
             or {} }
end
local notice, confirm_at = ARGV[3], I(now + tonumber(ARGV[5]))
if ARGV[2] == 'outbox' then
  if redis.call('ZREM', outbox, notice) == 0 then return 0 end
  redis.call('ZADD', sent, confirm_at, notice)
elseif ARGV[4] == '1' then
  if redis.call('ZADD', sent, 'XX', 'CH', confirm_at, notice) == 0 then return 0 end
else
  return redis.call('ZREM', sent, notice)
end
redis.call('PEXPIRE', sent, SENT_KEPT)
return 1
