-- expect: module 'zerog%.core' not found
-- The runtime's own modules (the C core with its unfenced store calls and run limits, the engine,
-- the registry, cjson's shared instance) are not requirable; a script that got one returns 200.
HOSTILE = true
return { JOB_TYPE = "require_internal", MAX_ERRORS = 1, run = function()
  local first
  for _, name in ipairs { "zerog.core", "zerog.engine", "zerog.registry", "zerog.api", "zerog.job",
                          "zerog.codec", "zerog.sandbox", "zerog.schema", "zerog.errors", "cjson",
                          "debug", "io", "os", "package", "string", "_G", "../zerog/core",
                          "lib.../x", "/etc/passwd" } do
    local ok, m = pcall(require, name)
    if ok then
      if type(m) == "table" and m.run_limits then m.run_limits(0, 0) end
      return 200
    end
    first = first or m
  end
  error(first, 0)
end }
