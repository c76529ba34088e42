-- expect: replaced the globals
-- Replacing globals and library functions changes this run's environment only: the engine,
-- which settles this very run, and the next run keep the originals.
HOSTILE = true
local raise = error
return { JOB_TYPE = "globals_overwrite", MAX_ERRORS = 1, run = function()
  tostring = function() return "forged" end
  pairs, ipairs, next, select, type = nil, nil, nil, nil, nil
  error = function() end
  pcall, xpcall = nil, nil
  string.format, string.rep = nil, nil
  table.insert, table.concat = function() end, nil
  math.floor, coroutine.resume = nil, nil
  setmetatable, getmetatable, rawset = nil, nil, nil
  _G.tonumber = nil
  raise("replaced the globals", 0)
end }
