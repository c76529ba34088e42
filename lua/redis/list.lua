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
-- A finished job whose retention has ended is not listed but deleted here, as a read of it would
-- (no host may be sweeping the queue), at most `budget` of them per listing: a page that meets
-- more ends early.
local budget = 100
-- The newest `limit` members of index set `key` in the bounds that are still jobs.
local function live_members(key, finished)
  local out, from = {}, hi
  while true do
    local ms = redis.call('ZRANGE', key, from, lo, 'BYLEX', 'REV', 'LIMIT', '0', I(limit - #out))
    local deleted = false
    for _, m in ipairs(ms) do
      from = '(' .. m
      local at = finished and redis.call('ZSCORE', p .. ':expiry', string.sub(m, 17))
      if at and tonumber(at) <= now then
        if budget == 0 then return out end
        budget = budget - 1
        delete_job(string.sub(m, 17))
        deleted = true
      else
        out[#out + 1] = m
      end
    end
    if not deleted or #out >= limit then return out end
  end
end
local rows = {}
for state in string.gmatch(ARGV[1], '%a+') do
  for _, jtype in ipairs(types) do
    local finished = state == 'succeeded' or state == 'failed'
    for _, m in ipairs(live_members(ix_key(state, jtype), finished)) do
      rows[#rows + 1] = { m, state, jtype }
    end
  end
end
table.sort(rows, function(a, b) return a[1] > b[1] end)
local out = {}
for i = 1, math.min(limit, #rows) do
  local r = rows[i]
  local job = jk(string.sub(r[1], 17))
  local h = redis.call('HMGET', job, 'completeness', 'resultCode', 'errorCount', 'createdAt',
                       'updatedAt', '_nl')
  local last = has_list(h[6], 4) and redis.call('LINDEX', job .. ':errors', -1) or false
  out[i] = { r[1], r[2], r[3], h[1] or false, h[2] or false, h[3] or false, h[4] or false,
             h[5] or false, last }
end
return out
