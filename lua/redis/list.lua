-- list: one page of the index, newest first. ARGV: the states (names separated by spaces), the
-- job type ('' for every type of the queue), the exclusive upper bound (a member, the cursor; ''
-- for none), the inclusive lower bound (a member prefix, "<ms, 15 digits>"; '' for none), the
-- page's size. Returns per job {member, state, type, completeness, resultCode, errorCount,
-- createdAt, updatedAt, the last errors entry} (absent fields are nil).
advance()
local types = ARGV[2] ~= '' and { ARGV[2] } or redis.call('SMEMBERS', p .. ':types')
local hi = ARGV[3] ~= '' and '(' .. ARGV[3] or '+'
local lo = ARGV[4] ~= '' and '[' .. ARGV[4] or '-'
local limit = tonumber(ARGV[5])
-- The page merges the index sets of every state and type asked for, newest first, reading each
-- set a chunk at a time: its cost grows with the page and the number of sets, not with the page
-- times the number of sets (reading a whole page from each of 60 sets and sorting them took half
-- a second of the server for a page of 1,000).
local CHUNK = math.min(limit, 32)
local sets = {}
for state in string.gmatch(ARGV[1], '%a+') do
  for _, jtype in ipairs(types) do
    sets[#sets + 1] = { key = ix_key(state, jtype), state = state, jtype = jtype, from = hi, buf = {},
                        at = 1, more = true, finished = state == 'succeeded' or state == 'failed' }
  end
end
-- the newest member of set s not yet taken, or nil
local function head(s)
  if s.at > #s.buf then
    if not s.more then return nil end
    s.buf = redis.call('ZRANGE', s.key, s.from, lo, 'BYLEX', 'REV', 'LIMIT', '0', I(CHUNK))
    s.at = 1
    s.more = #s.buf == CHUNK
    if #s.buf == 0 then return nil end
    s.from = '(' .. s.buf[#s.buf]
  end
  return s.buf[s.at]
end
-- A finished job whose retention has ended is not listed but deleted here, as a read of it would
-- (no host may be sweeping the queue), at most `budget` of them per listing: a page that meets
-- more ends early.
local budget = 100
local out = {}
while #out < limit do
  local best, m
  for _, s in ipairs(sets) do
    local top = head(s)
    if top and (not m or top > m) then best, m = s, top end
  end
  if not best then break end
  best.at = best.at + 1
  local uuid = string.sub(m, 17)
  local at = best.finished and redis.call('ZSCORE', p .. ':expiry', uuid)
  if at and tonumber(at) <= now then
    if budget == 0 then break end
    budget = budget - 1
    delete_job(uuid)
  else
    local job = jk(uuid)
    local h = redis.call('HMGET', job, 'completeness', 'resultCode', 'errorCount', 'createdAt',
                         'updatedAt', '_nl')
    local last = has_list(h[6], 4) and redis.call('LINDEX', job .. ':errors', -1) or false
    out[#out + 1] = { m, best.state, best.jtype, h[1] or false, h[2] or false, h[3] or false,
                      h[4] or false, h[5] or false, last }
  end
end
return out
