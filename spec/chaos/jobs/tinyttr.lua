-- chaos soak: a TTR of 1 s (renewed every 333 ms), runs about 1.5 s
local zerog = require "zerog"
return { JOB_TYPE = "tinyttr", QUEUE_NAME = "chaos_b", TTR = 1, MAX_ERRORS = 50, RETRY_DELAY = 1, REQUEUE_DELAY = 1,
  SCHEMA = { seconds = { type = "number", default = 1.5 } },
  run = function(self)
    self:record_event("run start")
    for i = 1, 5 do zerog.sleep(self.seconds / 5); self:tick(); self:job_log_info("tick " .. i) end
    return 200
  end }
