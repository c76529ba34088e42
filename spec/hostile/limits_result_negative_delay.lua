-- expect: invalid requeue delay
-- code: 500
return { JOB_TYPE = "limits_result_negative_delay", MAX_ERRORS = 1, run = function() return -1, -5 end }
