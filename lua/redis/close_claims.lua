-- close_claims: a live writer's claim of this queue that went unanswered, closed. KEYS: {zq:Q},
-- the writer's claim memo. ARGV: from, to (the claim was sent with sequence numbers from .. to - 1;
-- the writer's later claims use higher ones). Returns the memo as it was ("seq lease uuid", false:
-- none): a claim of those that ran names the job it took, to be put back. In the same step the
-- memo's sequence number becomes to, so that such a claim that has not run yet (held up on the
-- way: a partition's orphaned socket, a resend) takes nothing when it comes (claim_job: a claim
-- from the past). The job it names is kept only when that claim took it, so a close tried again
-- finds it again, and never an older claim's (a run its writer began). Kept 15 minutes (past
-- that, TCP has given up sending it), marked closed (' c'): the writer's later claims here keep
-- the mark and the 15 minutes (claim_job).
local last = redis.call('GET', KEYS[2])
local s, rest = nil, nil
if last then s, rest = string.match(last, '^(%d+)( %d+ %S+)') end
s = tonumber(s or '0')
if s < tonumber(ARGV[2]) then
  if s < tonumber(ARGV[1]) then rest = ' 0 -' end
  redis.call('SET', KEYS[2], ARGV[2] .. (rest or ' 0 -') .. ' c', 'PX', '900000')
end
return last
