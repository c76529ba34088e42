-- The latency probe's job (spec/bench/latency.c): the first thing its run does is write its
-- number to the probe's FIFO, where the probe takes the time (CLOCK_MONOTONIC, microseconds), so
-- submit-to-start is measured on one clock, in one process, without asking the job for a time
-- (the job API's timestamps have millisecond precision). Its queue is its own.
return {
  JOB_TYPE = "bench_probe",
  QUEUE_NAME = "bench_probe",
  SCHEMA = { i = { type = "integer", required = true }, signal = { type = "string", required = true } },
  run = function(self)
    local fifo = assert(io.open(self.signal, "w"))
    fifo:write(self.i, "\n")
    fifo:close()
    return 200
  end,
}
