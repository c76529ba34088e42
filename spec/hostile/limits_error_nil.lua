-- expect: ^nil
-- code: 500
-- error(nil) is recorded as an error.
return { JOB_TYPE = "limits_error_nil", MAX_ERRORS = 1, run = function() error(nil) end }
