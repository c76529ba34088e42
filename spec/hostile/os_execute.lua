-- expect: os%.execute is not available to job scripts
-- No shell: os.execute (and io.popen) would run any command as the worker.
HOSTILE = true
return { JOB_TYPE = "os_execute", MAX_ERRORS = 1, run = function()
  os.execute("touch /tmp/zerog_hostile_escaped")
  return 200
end }
