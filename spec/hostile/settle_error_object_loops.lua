-- expect: settling the run failed: the run exceeded the job type's TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- A genuine zerog error whose kind was replaced by a table with a looping __concat: the engine
-- formats it (tostring gives kind .. ": " .. msg) while settling, under the type's limits.
HOSTILE = true
return { JOB_TYPE = "settle_error_object_loops", TIMEOUT = 0.3, MAX_ERRORS = 1, run = function(self)
  local _, e = pcall(self.raise_error_continue, self, 500, "caught")
  rawset(e, "kind", setmetatable({}, { __concat = function() while true do end end }))
  error(e, 0)
end }
