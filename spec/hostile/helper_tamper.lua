-- expect: changed the helper module
-- A helper module (jobs/lib/shared.lua) is loaded for each run afresh: what a run does to it is
-- not seen by the next run (the canary checks shared.dirty).
HOSTILE = true
local shared = require "shared"
return { JOB_TYPE = "helper_tamper", MAX_ERRORS = 1, run = function()
  shared.dirty = true
  shared.greet = nil
  error("changed the helper module", 0)
end }
