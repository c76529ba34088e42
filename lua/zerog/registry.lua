--- zerog.registry: loading job-type scripts and the table of loaded types.
--
-- A script returns a table; it becomes the class of the job's instances (its metatable chain is
-- instance -> class -> BaseJob). Every problem is reported with the script's file and line.
local core = require "zerog.core"
local codec = require "zerog.codec"
local schema = require "zerog.schema"
local Job = require "zerog.job"

local resume = coroutine.resume -- the originals (see zerog.api)
local pcall = pcall

-- types: JOB_TYPE -> class; paths: path -> JOB_TYPE; files: paths loaded from files;
-- failures: path -> the error of its last load, while that failed
local M = { types = {}, paths = {}, files = {}, failures = {} }

local METHODS = {}
for name, v in pairs(Job) do
  if type(v) == "function" then METHODS[name] = true end
end
for _, name in ipairs { "run", "init", "get_data", "continue_running", "migrate" } do
  METHODS[name] = true
end

local function nonneg_number(v) return type(v) == "number" and v >= 0 end

local CHECKS = {
  { "SCHEMA_VERSION", function(v) return type(v) == "string" or type(v) == "number" end, "a string" },
  { "MAX_ERRORS", function(v) return math.type(v) == "integer" and v >= 0 end, "an integer >= 0" },
  { "QUEUE_NAME", function(v) return type(v) == "string" and v:match("^[%w_%-%.:]+$") ~= nil
      and #v < 100 end, "a name of letters, digits and _-.:" },
  { "RETRY_DELAY", nonneg_number, "a number of seconds >= 0" },
  { "REQUEUE_DELAY", nonneg_number, "a number of seconds >= 0" },
  { "TTR", function(v) return type(v) == "number" and v >= Job.MIN_TTR and v <= Job.MAX_DELAY end,
    "a number of seconds from " .. Job.MIN_TTR .. " to " .. Job.MAX_DELAY },
  { "PRIORITY", function(v) return math.type(v) == "integer" end, "an integer" },
  { "RETENTION", nonneg_number, "a number of seconds >= 0" },
  { "MEMORY_LIMIT", function(v) return math.type(v) == "integer" and v > 0 end, "a number of bytes > 0" },
  { "TIMEOUT", function(v) return type(v) == "number" and v > 0 end, "a number of seconds > 0" },
}

--- How long a script's top-level code may run when it loads (it only builds the job type's
-- table): past this the load fails, rather than hanging the host, `zerog check` or a worker's
-- start on a loop (found by fuzzing: spec/fuzz/scripts/).
M.LOAD_SECONDS = 2

--- Runs a loaded chunk, noting the line of its main return statement for later messages.
local function run_chunk(chunk)
  local line
  local deadline = core.clock() + M.LOAD_SECONDS
  local function hook(event)
    if event == "return" then
      local info = debug.getinfo(2, "Sl")
      if info and info.what == "main" then line = info.currentline end
    elseif core.clock() > deadline then
      error(string.format("the script's top-level code ran for over %g s", M.LOAD_SECONDS), 2)
    end
  end
  local co = coroutine.create(chunk)
  debug.sethook(co, hook, "r", 10000)
  local ok, result = resume(co)
  if not ok then result = debug.traceback(co, tostring(result)) end
  return ok, result, line
end

--- Checks the table a script returned; returns the class, or nil and a message (without place).
local function make_class(t)
  if type(t) ~= "table" then return nil, "the script must return a table (the job type)" end
  if type(t.JOB_TYPE) ~= "string" or not t.JOB_TYPE:match("^[%w_%-%.]+$") then
    return nil, "JOB_TYPE must be set to a name of letters, digits and _-. (got "
      .. tostring(t.JOB_TYPE) .. ")"
  end
  if type(t.run) ~= "function" then return nil, "the job type has no run function" end
  for _, name in ipairs { "init", "get_data", "continue_running", "migrate" } do
    if t[name] ~= nil and type(t[name]) ~= "function" then
      return nil, name .. " must be a function"
    end
  end
  for _, c in ipairs(CHECKS) do
    if t[c[1]] ~= nil and not c[2](t[c[1]]) then return nil, c[1] .. " must be " .. c[3] end
  end
  local fields, why = schema.compile(t.SCHEMA, METHODS)
  if not fields then return nil, why end
  t.__zerog = { fields = fields }
  t.__index = t
  return setmetatable(t, { __index = Job })
end

--- Loads a job type from source text (or from the file at path when source is nil).
-- Returns the class, or nil and a message that starts with the file (and line when known).
function M.load(path, source)
  local chunkname = "@" .. path
  local chunk, err
  if source then chunk, err = load(source, chunkname, "t")
  else chunk, err = loadfile(path, "t") end
  if not chunk then return nil, err end
  local ok, result, line = run_chunk(chunk)
  if not ok then return nil, result end
  local class, why = make_class(result)
  if not class then return nil, string.format("%s:%s: %s", path, line or 1, why) end
  local other = M.types[class.JOB_TYPE]
  if other and other.__zerog.path ~= path then
    return nil, string.format("%s:%s: JOB_TYPE %s is already defined by %s", path, line or 1,
                              class.JOB_TYPE, other.__zerog.path)
  end
  class.__zerog.path = path
  return class
end

--- Loads and registers a job type (replacing an earlier version from the same file).
function M.register(path, source)
  local class, err = M.load(path, source)
  if not class then
    if source == nil then M.failures[path] = err end
    return nil, err
  end
  M.failures[path] = nil
  local previous = M.paths[path]
  if previous and previous ~= class.JOB_TYPE then M.types[previous] = nil end
  M.types[class.JOB_TYPE] = class
  M.paths[path] = class.JOB_TYPE
  if source == nil then M.files[path] = true end
  return class
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

--- Loads every script that came from a file again, and the new ones in `current` (the scripts
-- now in the watched directories); forgets the types whose files are gone. Returns the messages
-- of the scripts that failed (their previous versions stay registered).
function M.reload(current)
  local failures, paths, seen = {}, {}, {}
  for path in pairs(M.files) do paths[#paths + 1] = path end
  for _, path in ipairs(current or {}) do
    if not M.files[path] then paths[#paths + 1] = path end
  end
  for path in pairs(M.failures) do -- a script that never loaded is not in M.files
    if not M.files[path] then paths[#paths + 1] = path end
  end
  table.sort(paths)
  for _, path in ipairs(paths) do
    if not seen[path] then
      seen[path] = true
      if exists(path) then
        local class, err = M.register(path)
        if not class then failures[#failures + 1] = err end
      else -- removed: its type goes too
        local t = M.paths[path]
        if t and M.types[t] and M.types[t].__zerog.path == path then M.types[t] = nil end
        M.paths[path], M.files[path], M.failures[path] = nil, nil, nil
      end
    end
  end
  return failures
end

--- {loaded = {{jobType, path}}, failed = {{path, error}}}, sorted by path.
function M.scripts()
  local loaded, failed = {}, {}
  for t, class in pairs(M.types) do loaded[#loaded + 1] = { jobType = t, path = class.__zerog.path } end
  for path, err in pairs(M.failures) do failed[#failed + 1] = { path = path, error = err } end
  table.sort(loaded, function(a, b) return a.path < b.path end)
  table.sort(failed, function(a, b) return a.path < b.path end)
  return { loaded = loaded, failed = failed }
end

function M.get(job_type) return M.types[job_type] end

--- The queue names of the loaded types, sorted and without repeats.
function M.queues()
  local seen, out = {}, {}
  for _, class in pairs(M.types) do
    if not seen[class.QUEUE_NAME] then
      seen[class.QUEUE_NAME] = true
      out[#out + 1] = class.QUEUE_NAME
    end
  end
  table.sort(out)
  return out
end

--- A new, unsaved job of a loaded type from params (a table); nil and why on bad params.
function M.make_job(job_type, params)
  local class = M.types[job_type]
  if not class then return nil, "unknown job type " .. tostring(job_type), "not_found" end
  local values, why = schema.validate(class.__zerog.fields, params or {})
  if not values then return nil, why, "invalid" end
  local job = Job.new(class, values)
  if class.init then class.init(job) end
  return job
end

--- Makes `job` (a table, e.g. the run's own instance) an instance of class holding doc: the
-- type's migrate() upgrades an older document first, then init() runs. Raises on a failure.
function M.fill_job(job, class, doc)
  local stored_version, version = tostring(doc.schemaVersion), tostring(class.SCHEMA_VERSION)
  local migrated = stored_version ~= version and class.migrate
  if migrated then
    doc = class.migrate(doc, stored_version) or doc
    doc.schemaVersion = version
  end
  setmetatable(job, class)
  Job._apply_document(job, doc)
  if migrated then job._migrated_from = stored_version end
  if class.init then class.init(job) end
  return job
end

--- The job stored under uuid as an instance of its type; nil and why when it cannot be loaded.
function M.load_job(uuid)
  local text = core.read(uuid)
  if not text then return nil, "no job " .. tostring(uuid), "not_found" end
  local doc, why = codec.decode(text)
  if type(doc) ~= "table" then return nil, "job " .. uuid .. " is not a JSON object: " .. tostring(why) end
  local class = M.types[doc.jobType]
  if not class then
    return nil, "job " .. uuid .. " has type " .. tostring(doc.jobType) .. ", which is not loaded",
           "unknown_type", doc
  end
  local ok, job = pcall(M.fill_job, {}, class, doc)
  if not ok then return nil, "job " .. uuid .. " cannot be loaded: " .. tostring(job), "job", doc end
  return job
end

--- The loaded job types, and the queues they use.
function M.claimable()
  local types = {}
  for t in pairs(M.types) do types[#types + 1] = t end
  table.sort(types)
  return types, M.queues()
end

return M
