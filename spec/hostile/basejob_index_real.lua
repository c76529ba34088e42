-- expect: BaseJob's own table is out of reach
-- zerog.BaseJob is a read-only view of BaseJob, but BaseJob had `__index = BaseJob`: reading
-- zerog.BaseJob.__index (or the class's __index after clearing the class's own) handed out the
-- real table every job of the worker shares, writable. Each route, and a write through it.
HOSTILE = true
local zerog = require "zerog"
return { JOB_TYPE = "basejob_index_real", MAX_ERRORS = 1, run = function(self)
  local class = getmetatable(self)
  local record_event = self.record_event
  local via_view = zerog.BaseJob.__index
  class.__index = nil
  local via_class = class.__index
  class.__index = class
  for _, real in ipairs { via_view, via_class } do
    if type(real) == "table" then
      real.TAMPERED = true
      real.record_event = function() error("record_event was replaced by another job") end
      record_event(self, "got the real BaseJob")
      return 200
    end
  end
  error("BaseJob's own table is out of reach", 0)
end }
