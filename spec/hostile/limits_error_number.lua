-- expect: ^42
-- code: 500
-- error(42) is recorded as an error with its number.
return { JOB_TYPE = "limits_error_number", MAX_ERRORS = 1, run = function() error(42) end }
