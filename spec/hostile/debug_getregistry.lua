-- expect: global 'debug'
-- The registry holds every internal module: debug.getregistry is not there.
HOSTILE = true
return { JOB_TYPE = "debug_getregistry", MAX_ERRORS = 1, run = function()
  local reg = debug.getregistry()
  if reg then return 200 end
end }
