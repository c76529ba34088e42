-- expect: cannot change a protected metatable
-- The run's instance keeps its class: setmetatable(self, ...) is refused.
HOSTILE = true
return { JOB_TYPE = "setmetatable_self", MAX_ERRORS = 1, run = function(self)
  setmetatable(self, { __index = function() return function() end end })
  return 200
end }
