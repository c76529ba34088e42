-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- A run past its TIMEOUT whose continue_running() loops, catching its own stop: the retry policy
-- runs under the same limits, and the job finishes with 500.
return { JOB_TYPE = "limits_continue_running_loop", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function() while true do end end,
  continue_running = function()
    while true do pcall(function() while true do end end) end
  end }
