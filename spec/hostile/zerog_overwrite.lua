-- expect: overwrote the zerog module
-- Changing the zerog module (and its json, log and BaseJob tables) changes this run's copy only.
HOSTILE = true
local zerog = require "zerog"
return { JOB_TYPE = "zerog_overwrite", MAX_ERRORS = 1, run = function()
  zerog.sleep, zerog.get_job, zerog.make_job = nil, nil, nil
  zerog.log.info, zerog.log.error = nil, nil
  zerog.json.encode = function() return "forged" end
  zerog.json.decode_max_depth(1)
  zerog.json.encode_number_precision(1)
  rawset(zerog.BaseJob, "record_event", function() end)
  zerog.NO_RESULT = 200
  error("overwrote the zerog module", 0)
end }
