-- claim: takes the most urgent ready job of the job types ARGV[4..] and starts its run (claim_job
-- in prelude.lua). KEYS: {zq:Q}, then the keys it may create (the copy of the document, the
-- claim memo, :reserved). ARGV: writer, sequence, announce (1: record the types as asked for now),
-- types... Returns {1, uuid, prior, document} or {0, ms to wait}.
advance()
return claim_job(ARGV[1], ARGV[2], ARGV[3] == '1', 4, #ARGV)
