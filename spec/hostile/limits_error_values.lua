-- expect: ^table: 
-- code: 500
-- Error values that are not strings (a table; nil and a number are the cases next to it in
-- spec/c/test_limits.c) are recorded with a message, never crash the engine.
return { JOB_TYPE = "limits_error_values", MAX_ERRORS = 1,
  run = function() error({ code = 7 }) end }
