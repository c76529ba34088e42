-- expect: invalid result code
-- code: 500
-- A result code beyond what a result holds (1e300) is the run's error, not a cast.
return { JOB_TYPE = "limits_result_huge", MAX_ERRORS = 1, run = function() return 1e300 end }
