-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- A to-be-closed variable whose __close loops, run when the TIMEOUT unwinds the loop.
return { JOB_TYPE = "limits_close_handler_loop", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function()
    while true do
      pcall(function()
        local guard <close> = setmetatable({}, { __close = function() while true do end end })
        while true do end
      end)
    end
  end }
