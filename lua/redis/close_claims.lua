-- close_claims: a live writer's claims of this queue that went unanswered, closed. KEYS: {zq:Q},
-- the writer's claim memo. ARGV: seq (every one of those claims was sent with a lower sequence
-- number; the writer's later claims use higher ones). Returns the memo as it was ("seq lease
-- uuid", false: none): a claim that ran names the job it took, to be put back. In the same step
-- the memo's sequence number becomes seq (the job it names, if any, kept, so a close tried again
-- finds it again), so that a claim that has not run yet (held up on the way: a partition's
-- orphaned socket, a resend) takes nothing when it comes (claim_job: a claim from the past).
-- Kept 15 minutes: past that, TCP has given up sending it.
local last = redis.call('GET', KEYS[2])
local s, rest = nil, ' 0 -'
if last then s, rest = string.match(last, '^(%d+)( %d+ .+)$') end
if not s or tonumber(s) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[1] .. (rest or ' 0 -'), 'PX', '900000')
end
return last
