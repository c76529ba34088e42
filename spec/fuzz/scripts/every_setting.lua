-- a job type with every setting and optional method, calling the job API's writers
local zerog = require "zerog"
return {
  JOB_TYPE = "every_setting",
  SCHEMA_VERSION = "2.0", MAX_ERRORS = 2, QUEUE_NAME = "fuzz_q", RETRY_DELAY = 0,
  REQUEUE_DELAY = 0, TTR = 5, PRIORITY = 7, RETENTION = 60, MEMORY_LIMIT = 8388608, TIMEOUT = 0.2,
  SCHEMA = {
    s = { type = "string", default = "é" }, i = { type = "integer", default = 1 },
    n = { type = "number" }, b = { type = "boolean" }, o = { type = "object" },
    a = { type = "array", default = { 1, 2 } }, x = { type = "any" },
  },
  init = function(self) self.started = true end,
  run = function(self)
    self:record_event("started")
    self:set_tick_value(0.25)
    self:tick()
    self:add_to_completeness(0.25)
    self:set_completeness(0.75)
    self:job_log_info("info " .. tostring(self.i))
    self:job_log_warning("careful")
    self:job_log_error("bad")
    self:update_attrs { s = "changed", o = { nested = { true, false } } }
    self:raise_warning_continue(299, "a warning")
    zerog.sleep(0.001)
    if self.i > 1 then self:raise_error_finish(400, "too big") end
    if self.b then error({ code = 1 }) end
    return 200
  end,
  get_data = function(self) return { s = self.s, i = self.i, a = self.a } end,
  continue_running = function(self) return -1 end,
}
