-- claim: takes the most urgent ready job of the job types ARGV[4..] and starts its run: a new
-- lease, running = true, cas + 1, its TTR running. ARGV: writer, sequence, announce (1: record
-- the types as asked for now), types... Returns {1, uuid, prior, document} or {0, ms to wait}.
-- A writer's last claim is kept in {zq:Q}:claim:<writer> ("seq lease uuid", for a minute), so a
-- claim resent after a lost reply is answered with the job it took (written and read back in
-- one SET ... GET: a resend is rare, and only then is the record put back).
advance()
local writer, seq = ARGV[1], ARGV[2]
local claim_key = p .. ':claim:' .. writer
-- a resent claim whose first try found nothing: the record says so only if it was written
local function resent(last)
  if not last then return nil end
  local s, lease, uuid = string.match(last, '^(%d+) (%d+) (.+)$')
  if s ~= seq then return nil end
  -- answered again only while the lease it handed out is still the current one
  redis.call('SET', claim_key, last, 'PX', 60000)
  local job = jk(uuid)
  local h = redis.call('HMGET', job, '_state', '_cprior', '_lease')
  if h[1] == 'running' and h[3] == lease then return { 1, uuid, tonumber(h[2]), doc(job) } end
  return { 0, 0 }
end
-- the most urgent ready job (a member whose job is gone, evicted or deleted, is dropped)
local m, jtype, uuid, job, h
for _ = 1, 100 do
  m, _, jtype = most_urgent(4, ARGV[3] == '1')
  if not m then
    if seq ~= '0' then
      local again = resent(redis.call('GET', claim_key))
      if again then return again end
    end
    return { 0, next_wait() }
  end
  uuid = uuid_of(m)
  job = jk(uuid)
  h = redis.call('HMGET', job, 'running', '_prior', '_ttr', '_reserves', 'cas', '_m')
  if h[3] and h[6] == m then break end
  redis.call('ZREM', p .. ':ready:' .. jtype, m)
  m = nil
end
if not m then return { 0, 0 } end
local lease = count(h[4]) + 1
if seq ~= '0' then
  local again = resent(redis.call('SET', claim_key, seq .. ' ' .. lease .. ' ' .. uuid, 'PX', 60000,
                                  'GET'))
  if again then return again end
end
redis.call('ZREM', p .. ':ready:' .. jtype, m)
local prior = 0
if h[1] == 'true' then
  prior = tonumber(h[2] or '0')
  if prior == 0 then prior = 2 end -- found running: its host died
end
local deadline = now + count(h[3])
redis.call('HSET', job, '_lease', lease, '_reserves', lease, '_state', 'running', 'running', 'true',
           '_prior', 0, '_cprior', prior, '_dl', deadline, '_rn', now, 'cas', count(h[5]) + 1)
redis.call('ZADD', p .. ':reserved', deadline, m)
due_by(deadline)
return { 1, uuid, prior, doc(job) }
