-- expect: zerog%.BaseJob is read%-only to job scripts
-- What a run does to its class is its own (the next run gets a fresh one); BaseJob, which every
-- type shares, and the class's own metatable cannot be changed.
HOSTILE = true
local zerog = require "zerog"
return { JOB_TYPE = "class_tamper", MAX_ERRORS = 1, run = function(self)
  local class = getmetatable(self)
  class.TAMPERED = true
  class.MAX_ERRORS = 100 -- the engine reads the type's policy as loaded, not this
  if getmetatable(class) ~= false then return 200 end
  zerog.BaseJob.record_event = function() end
  return 200
end }
