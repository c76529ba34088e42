-- The latency probe's job (spec/bench/latency.c): the first thing its run does is log
-- "bench_probe start <i>", a line the worker writes to its stderr at once; the probe reads that
-- stream and takes the time when the line arrives (CLOCK_MONOTONIC, microseconds), so
-- submit-to-start is measured on one clock, in one process, without asking the job for a time (the
-- job API's timestamps have millisecond precision). Its queue is its own.
local zerog = require "zerog"

return {
  JOB_TYPE = "bench_probe",
  QUEUE_NAME = "bench_probe",
  SCHEMA = { i = { type = "integer", required = true } },
  run = function(self)
    zerog.log.info("bench_probe start " .. self.i)
    return 200
  end,
}
