-- expect: no words for it
-- code: 500
-- An error object whose __tostring raises: the run still ends with a recorded error.
return { JOB_TYPE = "limits_tostring_throws_error", MAX_ERRORS = 1,
  run = function()
    error(setmetatable({}, { __tostring = function() error("no words for it") end }))
  end }
