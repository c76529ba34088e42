-- expect: invalid result code
-- code: 500
return { JOB_TYPE = "limits_result_infinite", MAX_ERRORS = 1, run = function() return math.huge end }
