-- chaos soak: raises 512 (and goes on) on a share p of its runs
local zerog = require "zerog"
return { JOB_TYPE = "flaky", QUEUE_NAME = "chaos_b", TTR = 10, MAX_ERRORS = 50, RETRY_DELAY = 1, REQUEUE_DELAY = 1,
  SCHEMA = { p = { type = "number", default = 0.3 }, seconds = { type = "number", default = 0.3 } },
  run = function(self)
    self:record_event("run start")
    zerog.sleep(self.seconds)
    self:add_to_completeness(0.5)
    if math.random() < self.p then self:raise_error_continue(512, "flaky failure") end
    return 200
  end }
