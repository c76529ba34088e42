-- expect: victim=[%x%-]+
-- Another job's document is reachable only through the documented API: zerog.get_job() instances
-- may record events and errors and set ordinary fields (by design), but cannot write the fields
-- the engine owns (resultCode, running, errorCount, ...): not by forging a uuid on an instance,
-- not through BaseJob. The runner checks the victim was left unfinished and not running.
HOSTILE = true
local zerog = require "zerog"
return { JOB_TYPE = "attack_other_job", MAX_ERRORS = 1, run = function(self)
  local victim = zerog.make_job("canary", {})
  victim:enqueue { delay = 3600 }
  local id = victim.uuid
  local tries = {
    function() zerog.get_job(id):record_result(201) end,
    function() zerog.get_job(id):update_attrs { resultCode = 201, completeness = 1 } end,
    function() zerog.get_job(id):raise_error_finish(201, "finished by another job") end,
    function() local j = zerog.get_job(id); j.resultCode = 201; j.running = true; j:save() end,
    function() self.uuid = id; self:update_attrs { resultCode = 201 } end,
    function() local mine = zerog.get_job(self.uuid); mine.uuid = id; mine:record_result(201) end,
    function() zerog.BaseJob.update_attrs(zerog.get_job(id), { errorCount = 9 }) end,
  }
  for _, try in ipairs(tries) do pcall(try) end
  local after = zerog.get_job(id)
  if after.resultCode ~= -1 or after.running then return 200 end
  error("victim=" .. id, 0)
end }
