-- expect: MEMORY_LIMIT of 8388608 bytes
-- code: 500
-- timeout-ms: 10000
-- Unbounded allocation, caught with pcall and retried: "not enough memory" is sticky.
return { JOB_TYPE = "limits_memory_unbounded", MEMORY_LIMIT = 8 * 1024 * 1024, MAX_ERRORS = 1,
  run = function()
    while true do
      local t = {}
      pcall(function() for i = 1, 1e9 do t[i] = string.rep("x", 100) .. i end end)
      t = nil
    end
  end }
