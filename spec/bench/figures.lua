-- figures: what the bench's reports share (spec/bench/report.lua, spec/bench/cluster_report.lua):
-- picking rows of the JSON lines a harness collected, medians and percentiles, and numbers as the
-- tables print them. Loaded with dofile by path (the reports run as plain lua5.4 scripts).
local M = {}

--- The rows whose fields equal every field of want.
function M.select(rows, want)
  local out = {}
  for _, r in ipairs(rows) do
    local ok = true
    for k, v in pairs(want) do
      if r[k] ~= v then ok = false end
    end
    if ok then out[#out + 1] = r end
  end
  return out
end

--- The field of each row, in order.
function M.pluck(rows, field)
  local out = {}
  for _, r in ipairs(rows) do out[#out + 1] = r[field] end
  return out
end

--- A sorted copy of list.
function M.sorted(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  return s
end

--- The median of list (nil when empty).
function M.median(list)
  if #list == 0 then return nil end
  local s = M.sorted(list)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

--- The p-th percentile of list, nearest rank (nil when empty).
function M.percentile(list, p)
  if #list == 0 then return nil end
  local s = M.sorted(list)
  return s[math.max(1, math.ceil(p / 100 * #s))]
end

--- x as the tables print it: "-" for nil, with digits decimals, else a whole number with
-- thousands separated by commas.
function M.num(x, digits)
  if x == nil then return "-" end
  if digits then return string.format("%." .. digits .. "f", x) end
  local s = string.format("%d", math.floor(x + 0.5))
  repeat
    local n
    s, n = s:gsub("^(-?%d+)(%d%d%d)", "%1,%2")
  until n == 0
  return s
end

return M
