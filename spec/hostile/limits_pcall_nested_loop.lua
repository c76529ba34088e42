-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- pcall around the loop, nested, in a loop of its own: the TIMEOUT cannot be caught.
return { JOB_TYPE = "limits_pcall_nested_loop", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function()
    while true do
      pcall(function()
        while true do pcall(function() while true do end end) end
      end)
    end
  end }
