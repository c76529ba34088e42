-- A helper module of the hostile scripts and the canary (jobs/lib/shared.lua): not a job type.
local M = {}
function M.greet(name) return "hello " .. name end
return M
