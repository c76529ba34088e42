-- expect: collectgarbage: "stop" is not available to job scripts
-- The collector's mode is the VM's: only count, collect, step and isrunning are open.
HOSTILE = true
return { JOB_TYPE = "collectgarbage_stop", MAX_ERRORS = 1, run = function()
  for _, opt in ipairs { "generational", "incremental", "setpause", "setstepmul" } do
    if pcall(collectgarbage, opt, 1) then return 200 end
  end
  collectgarbage("stop")
  return 200
end }
