-- expect: MEMORY_LIMIT of 8388608 bytes
-- code: 500
-- timeout-ms: 10000
-- string.rep bombs, caught and tried again.
return { JOB_TYPE = "limits_string_rep_bomb", MEMORY_LIMIT = 8 * 1024 * 1024, MAX_ERRORS = 1,
  run = function()
    local s = "x"
    while true do
      local ok = pcall(function() s = string.rep(s, 2) .. s end)
      if not ok then pcall(string.rep, "y", 1 << 40) end
    end
  end }
