-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- An error object whose __tostring loops: turning it into the recorded message is bounded too.
return { JOB_TYPE = "limits_tostring_loop_error", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function()
    error(setmetatable({}, { __tostring = function() while true do end end }))
  end }
