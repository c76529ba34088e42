-- expect: os%.getenv is not available to job scripts
-- The worker's environment holds the store's URL (and its password): os.getenv is closed, and so
-- are os.remove, os.rename, os.tmpname and os.setlocale.
HOSTILE = true
return { JOB_TYPE = "os_getenv", MAX_ERRORS = 1, run = function()
  for _, name in ipairs { "remove", "rename", "tmpname", "setlocale" } do
    if pcall(os[name], "/tmp/zerog_hostile_escaped", "/tmp/zerog_hostile_escaped") then return 200 end
  end
  if os.getenv("ZEROG_STORE") then return 200 end
end }
