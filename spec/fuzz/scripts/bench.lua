-- The benchmark's job: the BullMQ anchor's workload (one progress update, one log line, a small
-- result), written as a ZeroG job type. Its one event is "ran": spec/bench/verify.c checks that
-- every job has exactly one, so a job run twice (or not at all) fails the bench.
return {
  JOB_TYPE = "bench",
  SCHEMA = { i = { type = "integer" } },
  run = function(self)
    self:set_completeness(0.5)
    self:job_log_info("ran")
    return 200
  end,
  get_data = function(self) return { ok = 1 } end,
}
