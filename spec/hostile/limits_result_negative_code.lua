-- expect: invalid result code
-- code: 500
return { JOB_TYPE = "limits_result_negative_code", MAX_ERRORS = 1, run = function() return -7 end }
