-- expect: stack overflow
-- code: 500
-- timeout-ms: 10000
-- Unbounded recursion ends in a recorded stack overflow.
local function down(n) return 1 + down(n + 1) end
return { JOB_TYPE = "limits_deep_recursion", MAX_ERRORS = 1, run = function() return down(1) end }
