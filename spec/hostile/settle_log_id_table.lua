-- expect: settling the run failed: .*bad argument #2 to 'log'
-- code: 500
-- The engine logs a failed run under the instance's logId, which the run made a table: settling
-- fails with a message recorded on the job, instead of the engine raising out of the run (which
-- left the job reserved until its TTR lapsed).
HOSTILE = true
return { JOB_TYPE = "settle_log_id_table", MAX_ERRORS = 1, run = function(self)
  self.logId = {}
  error("fail, so that the engine logs it")
end }
