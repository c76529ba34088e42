-- The benchmark's job: the BullMQ anchor's workload (one progress update, one log line, a small
-- result), written as a ZeroG job type.
return {
  JOB_TYPE = "bench",
  SCHEMA = { i = { type = "integer" } },
  run = function(self)
    self:set_completeness(0.5)
    self:job_log_info("event")
    return 200
  end,
  get_data = function(self) return { ok = 1 } end,
}
