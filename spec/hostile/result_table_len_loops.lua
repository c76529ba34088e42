-- expect: settling the run failed: the run exceeded the job type's TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- run() returns a table whose __len loops: the engine reads the result ({code, delay} or #t) while
-- settling, which runs under the type's limits, so the loop is stopped.
HOSTILE = true
return { JOB_TYPE = "result_table_len_loops", TIMEOUT = 0.3, MAX_ERRORS = 1, run = function()
  return setmetatable({}, { __len = function() while true do end end })
end }
