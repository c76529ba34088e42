-- chaos soak: a very short job; one event per run start
return { JOB_TYPE = "quick", QUEUE_NAME = "chaos_a", TTR = 10, MAX_ERRORS = 50, RETRY_DELAY = 1, REQUEUE_DELAY = 1,
  run = function(self) self:record_event("run start"); return 200 end }
