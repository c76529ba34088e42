-- expect: global 'package'
-- package.loadlib(<liblua>, "luaopen_os") would hand out the real os: package is not there.
HOSTILE = true
return { JOB_TYPE = "package_loadlib", MAX_ERRORS = 1, run = function()
  local open_os = package.loadlib("/usr/lib/x86_64-linux-gnu/liblua5.4.so.0", "luaopen_os")
  if open_os then open_os().execute("touch /tmp/zerog_hostile_escaped") return 200 end
end }
