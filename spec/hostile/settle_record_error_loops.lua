-- expect: settling the run failed: the run exceeded the job type's TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- The engine settles a failed run by calling the instance's record_error, which the run has
-- replaced by a loop: the engine's settling runs under the type's limits too, so the loop is
-- stopped and the failure is recorded by the engine itself.
HOSTILE = true
return { JOB_TYPE = "settle_record_error_loops", TIMEOUT = 0.3, MAX_ERRORS = 1, run = function(self)
  self.record_error = function() while true do end end
  self.continue_running = function() while true do end end
  error("fail, so that the engine records it")
end }
