-- chaos soak: 0.2-2 s of ticks, completeness and log lines
local zerog = require "zerog"
return { JOB_TYPE = "steady", QUEUE_NAME = "chaos_a", TTR = 10, MAX_ERRORS = 50, RETRY_DELAY = 1, REQUEUE_DELAY = 1,
  SCHEMA = { seconds = { type = "number", default = 1 } },
  run = function(self)
    self:record_event("run start")
    for i = 1, 10 do
      zerog.sleep(self.seconds / 10)
      self:tick()
      self:add_to_completeness(0.05)
      self:job_log_info("step " .. i)
    end
    return 200
  end }
