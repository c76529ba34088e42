-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- A plain infinite loop is ended by the job type's TIMEOUT.
return { JOB_TYPE = "limits_infinite_loop_timeout", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function() while true do end end }
