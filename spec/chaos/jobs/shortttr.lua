-- chaos soak: a TTR of 2 s, runs about a second with ticks
local zerog = require "zerog"
return { JOB_TYPE = "shortttr", QUEUE_NAME = "chaos_b", TTR = 2, MAX_ERRORS = 50, RETRY_DELAY = 1, REQUEUE_DELAY = 1,
  SCHEMA = { seconds = { type = "number", default = 1 } },
  run = function(self)
    self:record_event("run start")
    for i = 1, 5 do zerog.sleep(self.seconds / 5); self:tick(); self:job_log_info("tick " .. i) end
    return 200
  end }
