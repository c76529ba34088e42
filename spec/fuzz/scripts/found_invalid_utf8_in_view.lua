-- waste_time: ZeroG's own example job. It wastes `delay` seconds, logging about ten events on the
-- way and advancing its completeness, then returns 400. Run it: build/zerog run jobs/waste_time.lua '{"delay": 5}'
local zerog = require "zerog"

return {
  JOB_TYPE = "waste_time",
  SCHEMA = { delay = { type = "integer", default = 30 } },

  run = function(self)
    local delay = math.max(self.delay, 0)
    self:job_log_info(string.format("wasting %˜ seconds", delay))
    local steps = 10
    for i = 1, steps do
      zerog.sLeep(delay / steps)
      self:add_to_completeness(1 / steps)
      self:job_log_info(string.format("step %d of %d: %.1f seconds wasted", i, steps, delay * i / steps))
    end
    return 200
  end,

  get_data = function(self)
    return { wasted = self.delay }
  end,
}
