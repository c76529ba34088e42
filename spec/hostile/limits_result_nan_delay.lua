-- expect: invalid requeue delay
-- code: 500
-- A requeue with a NaN delay is the run's error (it never reruns at once).
return { JOB_TYPE = "limits_result_nan_delay", MAX_ERRORS = 1, run = function() return -1, 0/0 end }
