-- expect: global 'io'
-- No file access: io is not there (nor dofile/loadfile); the attempt to write the escape file fails.
HOSTILE = true
return { JOB_TYPE = "io_open_passwd", MAX_ERRORS = 1, run = function()
  local escaped = io.open("/tmp/zerog_hostile_escaped", "w")
  if escaped then escaped:write("escaped") escaped:close() end
  local f = io.open("/etc/passwd")
  if f and f:read("a"):find("root") then return 200 end
  return 200
end }
