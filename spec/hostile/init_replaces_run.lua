-- expect: the job's run is not a function
-- code: 500
-- init() replaces the instance's run by a number: the engine looks run up under the limits and
-- the run fails with a recorded error, instead of the engine raising out of the run.
HOSTILE = true
return { JOB_TYPE = "init_replaces_run", MAX_ERRORS = 1,
  init = function(self) self.run = 42 end,
  run = function() return 200 end }
