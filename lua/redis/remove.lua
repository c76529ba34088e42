-- remove: deletes job KEYS[2] whatever its state (document, lists, queue entry, index entry).
-- ARGV[1]: the end its parent gets when the job is a child that has not ended (flows: left in
-- the outbox as a failed finish leaves it, else the parent would wait for it forever). Returns 1, 2
-- when it left such a notice (the caller hands it over), or 0 when there was no such job.
local job = KEYS[2]
local f = redis.call('HMGET', job, '_state', 'parentUuid', 'parentQueue')
local pu, pq = f[2] and string.match(f[2], '^"(.+)"$'), f[3] and string.match(f[3], '^"(.+)"$')
local notice = f[1] and f[1] ~= 'finished' and pu and pq
if notice then
  redis.call('ZADD', p .. ':outbox', I(now), pu .. ' ' .. string.sub(job, #p + 6) .. ' 1' .. ARGV[1]
             .. '\n' .. pq)
end
if not delete_job(string.sub(job, #p + 6)) then return 0 end
return notice and 2 or 1
