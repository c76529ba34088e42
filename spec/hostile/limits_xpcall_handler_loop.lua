-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- A message handler that loops (it would run inside the hook, where hooks are off).
return { JOB_TYPE = "limits_xpcall_handler_loop", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function()
    while true do
      xpcall(function() while true do end end, function() while true do end end)
    end
  end }
