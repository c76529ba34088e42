-- flaky: fails its first `failures` runs with raise_error_continue (the host retries it after
-- RETRY_DELAY seconds), then succeeds. With failures >= MAX_ERRORS it ends with 500.
-- Shows the retry engine:  build/zerog run --no-wait jobs/flaky.lua '{"failures": 2}'
return {
  JOB_TYPE = "flaky",
  MAX_ERRORS = 3,
  RETRY_DELAY = 2,
  SCHEMA = {
    failures = { type = "integer", default = 2 },
    attempts = { type = "integer", default = 0 },
  },

  run = function(self)
    self:update_attrs { attempts = self.attempts + 1 }
    self:job_log_info("attempt " .. self.attempts)
    if self.attempts <= self.failures then
      self:raise_error_continue(503, "upstream unavailable on attempt " .. self.attempts)
    end
    self:set_completeness(1)
    return 200
  end,

  get_data = function(self)
    return { attempts = self.attempts }
  end,
}
