-- expect: __gc finalizers are not available to job scripts
-- A finalizer would run after the run, outside its limits: setmetatable refuses a __gc field, and
-- a class with one cannot be made (so no instance gets one through the runtime either).
HOSTILE = true
return { JOB_TYPE = "gc_finalizer", MAX_ERRORS = 1, run = function(self)
  local mt = {}
  setmetatable({}, mt)
  mt.__gc = function() while true do end end -- too late: the object was not marked
  getmetatable(self).__gc = function() while true do end end
  local ok = pcall(function() require("zerog").BaseJob.new(getmetatable(self), {}) end)
  if ok then return 200 end
  setmetatable({}, { __gc = function() while true do end end })
  return 200
end }
