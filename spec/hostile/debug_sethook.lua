-- expect: global 'debug'
-- debug.sethook() would switch the run's TIMEOUT off: debug is not there.
HOSTILE = true
return { JOB_TYPE = "debug_sethook", TIMEOUT = 5, MAX_ERRORS = 1, run = function()
  debug.sethook()
  return 200
end }
