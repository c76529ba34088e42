-- fibonacci: computes Fibonacci numbers up to `n`, ticking its completeness once per number,
-- and returns the last one as its data. Shows tick(), set_tick_value() and get_data().
--   build/zerog run jobs/fibonacci.lua '{"n": 80}'
return {
  JOB_TYPE = "fibonacci",
  SCHEMA = {
    n = { type = "integer", required = true },
    result = { type = "integer" },      -- persisted answer, read by get_data
  },

  run = function(self)
    if self.n < 1 or self.n > 78 then
      -- 78 is the largest n whose answer a JSON number holds exactly
      self:raise_error_finish(400, "n must be between 1 and 78, got " .. self.n)
    end
    self:set_tick_value(1 / self.n)
    local a, b = 0, 1
    for _ = 1, self.n do
      a, b = b, a + b
      self:tick()
    end
    self:update_attrs { result = a }
    self:job_log_info(string.format("fib(%d) = %d", self.n, a))
    return 200
  end,

  get_data = function(self)
    return { n = self.n, fib = self.result }
  end,
}
