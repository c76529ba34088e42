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
local rows = {}
for state in string.gmatch(ARGV[1], '%a+') do
  for _, jtype in ipairs(types) do
    local ms = redis.call('ZRANGE', ix_key(state, jtype), hi, lo, 'BYLEX', 'REV', 'LIMIT', '0', I(limit))
    for _, m in ipairs(ms) do rows[#rows + 1] = { m, state, jtype } end
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
