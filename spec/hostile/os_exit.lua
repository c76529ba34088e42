-- expect: os%.exit is not available to job scripts
-- A job must not end its host: os.exit raises (whatever the code or the close flag).
HOSTILE = true
return { JOB_TYPE = "os_exit", MAX_ERRORS = 1, run = function()
  os.exit(3, true)
  return 200
end }
