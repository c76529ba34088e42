--- zerog.registry: loading job-type scripts and the table of loaded types.
--
-- A script returns a table; it becomes the class of the job's instances (its metatable chain is
-- instance -> class -> BaseJob). Every problem is reported with the script's file and line.
--
-- Scripts run in the sandbox (zerog.sandbox). A script is compiled once; loading it runs it once
-- to check what it defines (that table, the type's "spec", holds the policy the runtime reads:
-- JOB_TYPE, QUEUE_NAME, TTR, TIMEOUT, ...), and every later use of the type (a run, a submit, a
-- read, a get_job) runs the script again in a fresh environment (instantiate()), so each use has
-- its own class table, globals and helper modules, and no job code ever sees the spec.
local core = require "zerog.core"
local codec = require "zerog.codec"
local schema = require "zerog.schema"
local Job = require "zerog.job"
local job_private = require "zerog.job_private" -- (made by zerog.job)
local sandbox = require "zerog.sandbox"
local shards = require "zerog.shards"

-- the originals (see zerog.api), captured before any job code runs
local resume, create = coroutine.resume, coroutine.create
local pcall, type, tostring, pairs, ipairs, rawget, rawset = pcall, type, tostring, pairs, ipairs, rawget, rawset
local setmetatable = setmetatable
local sethook, getinfo, dtraceback = debug.sethook, debug.getinfo, debug.traceback
local fmt, sort, mtype = string.format, table.sort, math.type
local io_open = io.open
local info_of = sandbox.info_of

-- types: JOB_TYPE -> class; paths: path -> JOB_TYPE; files: paths loaded from files;
-- failures: path -> the error of its last load, while that failed
local M = { types = {}, paths = {}, files = {}, failures = {} }

-- What claimable() answered, until the loaded types change.
local claimable_types, claimable_queues, claimable_limits
-- M.generation counts the changes of the loaded types (the host writes the REPEATs again)
M.generation = 0
local shard_counts -- (below)
local function types_changed()
  claimable_types, claimable_queues, shard_counts = nil, nil, nil
  M.generation = M.generation + 1
end

--- The limits a script's top level loads under (its TIMEOUT and MEMORY_LIMIT are not known
-- before it has run): a top level that loops or allocates without end fails to load instead of
-- hanging `zerog check`, a worker's start or a reload of `serve` (found by fuzzing:
-- spec/fuzz/scripts/found_top_level_loop.lua).
M.LOAD_TIMEOUT = 2
M.LOAD_MEMORY_LIMIT = 256 * 1024 * 1024

local METHODS = {}
for name, v in pairs(Job) do
  if type(v) == "function" then METHODS[name] = true end
end
for _, name in ipairs { "run", "init", "get_data", "continue_running", "migrate", "backoff" } do
  METHODS[name] = true
end

local function nonneg_number(v) return type(v) == "number" and v >= 0 end

local CHECKS = {
  { "SCHEMA_VERSION", function(v) return type(v) == "string" or type(v) == "number" end, "a string" },
  { "MAX_ERRORS", function(v) return mtype(v) == "integer" and v >= 0 end, "an integer >= 0" },
  { "QUEUE_NAME", function(v) return type(v) == "string" and v:match("^[%w_%-%.:]+$") ~= nil
      and #v < 100 end, "a name of letters, digits and _-.:" },
  { "RETRY_DELAY", nonneg_number, "a number of seconds >= 0" },
  { "REQUEUE_DELAY", nonneg_number, "a number of seconds >= 0" },
  { "TTR", function(v) return type(v) == "number" and v >= Job.MIN_TTR and v <= Job.MAX_DELAY end,
    "a number of seconds from " .. Job.MIN_TTR .. " to " .. Job.MAX_DELAY },
  { "PRIORITY", function(v) return mtype(v) == "integer" end, "an integer" },
  { "RETENTION", nonneg_number, "a number of seconds >= 0" },
  { "MEMORY_LIMIT", function(v) return mtype(v) == "integer" and v > 0 end, "a number of bytes > 0" },
  { "TIMEOUT", function(v) return type(v) == "number" and v > 0 end, "a number of seconds > 0" },
  { "BACKOFF", function(v) return Job._backoff_policy(v) ~= nil end,
    "a table { type = \"exponential\" | \"fixed\" | \"linear\", delay = seconds, max = seconds, "
    .. "jitter = 0..1 }" },
  { "REPEAT", function(v) return type(v) == "table" end,
    "a table { cron = \"*/5 * * * *\" | every = seconds, tz = \"Europe/Paris\", params = {...}, "
    .. "catch_up = \"once\" | \"skip\" }" },
  { "UNIQUE", function(v) return Job._unique_policy(v) ~= nil end,
    "a table { key = a function(params) or a field name or a list of field names, ttl = seconds "
    .. ">= 0, [\"while\"] = \"queued\" | \"running\" | \"until_done\" }" },
  -- [limits]
  { "CONCURRENCY", function(v) return Job._concurrency_policy(v) ~= nil end,
    "an integer from 1 to " .. Job._max_limit .. " or a table { limit = that, scope = \"type\" | \"queue\" }" },
  { "RATE", function(v) return Job._rate_policy(v) ~= nil end,
    "a table { limit = an integer from 1 to " .. Job._max_limit .. ", per = seconds >= 0.001, scope = "
    .. "\"type\" | \"queue\" }" },
  { "GROUP", function(v) return type(v) == "string" and v ~= "" end, "the name of a params field" },
  -- [/limits]
  { "SHARDS", function(v) return mtype(v) == "integer" and v >= 1 and v <= 64 end, "an integer from 1 to 64" },
  { "SHARD_BY", function(v) return type(v) == "string" and v ~= "" end, "the name of a params field" },
}

--- Runs a compiled script in env, noting the line of its main return statement for messages.
-- (The line comes from a C hook that keeps the run hook's checks: coroutines the chunk creates
-- inherit it, and must stay under the limits when a run resumes them.)
local function run_chunk(chunk, env)
  local co = create(chunk)
  core.chunk_hook(co)
  local ok, result = resume(co, env)
  local line = core.chunk_line()
  if not ok then result = dtraceback(co, tostring(result)) end
  return ok, result, line
end

--- Makes the table a script returned a class of the type whose record is info: its own
-- __index, a metatable that hands out the class itself (so setmetatable on an instance is
-- refused), and the type's protected class_mt (BaseJob's methods, the record) behind it.
local function classify(t, info)
  if rawget(t, "__gc") ~= nil then return nil, "a job type may not define __gc: finalizers are not available to job scripts" end
  rawset(t, "__index", t)
  rawset(t, "__metatable", t)
  local ok, why = pcall(setmetatable, t, info.class_mt)
  if not ok then return nil, "the job type's table cannot take BaseJob's methods: " .. tostring(why) end
  return t
end

--- A type's REPEAT checked: {rule, tz, params, catch_up}, or nil and what is wrong (after the
-- word REPEAT: ".cron is ...").
local REPEAT_KEYS = { cron = true, every = true, tz = true, params = true, catch_up = true }
function M.repeat_policy(r)
  if type(r) ~= "table" then return nil, " must be a table" end
  for k in pairs(r) do
    if not REPEAT_KEYS[k] then return nil, " has an unknown field " .. tostring(k) .. " (cron, every, tz, params, catch_up)" end
  end
  local cron, every, tz = rawget(r, "cron"), rawget(r, "every"), rawget(r, "tz")
  if (cron == nil) == (every == nil) then return nil, " needs one of cron (a cron rule) and every (seconds)" end
  if tz ~= nil and type(tz) ~= "string" then return nil, ".tz must be a zone name such as \"Europe/Paris\"" end
  local rule
  if cron ~= nil then
    if type(cron) ~= "string" then return nil, ".cron must be a string (a cron rule)" end
    rule = cron
  else
    if type(every) ~= "number" or every ~= every or every < 1 or every > Job.MAX_DELAY then
      return nil, ".every must be a number of seconds from 1 to " .. Job.MAX_DELAY
    end
    rule = mtype(every) == "integer" and fmt("@every:%d", every) or fmt("@every:%.3f", every)
  end
  local why = core.cron_check(rule, tz)
  if why then
    local field = why:find("time zone", 1, true) and ".tz" or cron ~= nil and ".cron" or ".every"
    return nil, field .. ": " .. why
  end
  local params, catch_up = rawget(r, "params"), rawget(r, "catch_up") or "once"
  if params ~= nil and type(params) ~= "table" then return nil, ".params must be a table (the jobs' params)" end
  if catch_up ~= "once" and catch_up ~= "skip" then return nil, ".catch_up must be \"once\" or \"skip\"" end
  return { rule = rule, tz = tz or "", params = params, catch_up = catch_up }
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
  local unique = Job._unique_policy(t.UNIQUE)
  if unique and type(unique.key) == "table" then -- (a field no param can set: one key for all)
    for _, name in ipairs(unique.key) do
      if type(t.SCHEMA) ~= "table" or t.SCHEMA[name] == nil then
        return nil, "UNIQUE.key names " .. name .. ", which is not a field of the SCHEMA"
      end
    end
  end
  if type(t.GROUP) == "string" and (type(t.SCHEMA) ~= "table" or t.SCHEMA[t.GROUP] == nil) then
    return nil, "GROUP names " .. t.GROUP .. ", which is not a field of the SCHEMA"
  end
  if type(t.SHARD_BY) == "string" and (type(t.SCHEMA) ~= "table" or t.SCHEMA[t.SHARD_BY] == nil) then
    return nil, "SHARD_BY names " .. t.SHARD_BY .. ", which is not a field of the SCHEMA"
  end
  local fields, why = schema.compile(t.SCHEMA, METHODS)
  if fields and t.REPEAT ~= nil then
    local policy, bad = M.repeat_policy(t.REPEAT)
    if not policy then return nil, "REPEAT" .. bad end
    if not schema.validate(fields, t.REPEAT.params or {}) then
      local _, invalid = schema.validate(fields, t.REPEAT.params or {})
      return nil, "REPEAT.params do not fit the SCHEMA: " .. tostring(invalid)
    end
  end
  return fields, why
end

--- Loads a job type from source text (or from the file at path when source is nil).
-- Returns the class, or nil and a message that starts with the file (and line when known).
function M.load(path, source)
  local chunk, err
  if source then chunk, err = sandbox.compile(source, "@" .. path)
  else chunk, err = sandbox.compile_file(path) end
  if not chunk then return nil, err end
  local env_mt = sandbox.env_metatable(sandbox.lib_of(path))
  local stopped, called, packed = core.run_protected(M.LOAD_MEMORY_LIMIT, M.LOAD_TIMEOUT,
    function(e) return e end, function() return { run_chunk(chunk, sandbox.new_env(env_mt)) } end)
  if stopped or not called then
    local why = stopped or packed
    return nil, fmt("%s: its top level did not load within %g s and %d bytes: %s", path,
      M.LOAD_TIMEOUT, M.LOAD_MEMORY_LIMIT, type(why) == "string" and why or type(why))
  end
  local ok, result, line = packed[1], packed[2], packed[3]
  if not ok then return nil, result end
  local fields, why = make_class(result)
  local class
  if fields then
    class, why = classify(result, sandbox.new_info(Job, { fields = fields, path = path, chunk = chunk,
                                                          env_mt = env_mt, spec = result }))
  end
  if not class then return nil, fmt("%s:%s: %s", path, line or 1, why) end
  for name, loaded in pairs(M.types) do -- (sharded queues: one count per queue)
    if name ~= class.JOB_TYPE and loaded.QUEUE_NAME == class.QUEUE_NAME
       and (loaded.SHARDS or 1) ~= (class.SHARDS or 1) then
      return nil, fmt("%s:%s: SHARDS = %d, but job type %s of the same queue %s declares SHARDS = %d",
                      path, line or 1, class.SHARDS or 1, name, class.QUEUE_NAME, loaded.SHARDS or 1)
    end
  end
  local other = M.types[class.JOB_TYPE]
  if other and info_of(other).path ~= path then
    return nil, fmt("%s:%s: JOB_TYPE %s is already defined by %s", path, line or 1,
                    class.JOB_TYPE, info_of(other).path)
  end
  return class
end

--- A fresh class of a loaded type (its spec), for one use: the script runs again in a new
-- environment. Raises when the script now fails or defines something else.
function M.instantiate(spec)
  local info = info_of(spec)
  local t = info.chunk(sandbox.new_env(info.env_mt))
  if type(t) ~= "table" or rawget(t, "JOB_TYPE") ~= spec.JOB_TYPE or type(rawget(t, "run")) ~= "function" then
    error(info.path .. ": the script defined something else than when it was loaded (JOB_TYPE "
      .. spec.JOB_TYPE .. " with a run function)", 0)
  end
  local class, why = classify(t, info)
  if not class then error(info.path .. ": " .. why, 0) end
  return class
end

--- Loads and registers a job type (replacing an earlier version from the same file).
function M.register(path, source)
  types_changed()
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
  local f = io_open(path, "r")
  if f then f:close() end
  return f ~= nil
end

--- Loads every script that came from a file again, and the new ones in `current` (the scripts
-- now in the watched directories); forgets the types whose files are gone. Returns the messages
-- of the scripts that failed (their previous versions stay registered).
function M.reload(current)
  local failures, paths, seen = {}, {}, {}
  sandbox.forget_helpers() -- helper modules are read again too
  for path in pairs(M.files) do paths[#paths + 1] = path end
  for _, path in ipairs(current or {}) do
    if not M.files[path] then paths[#paths + 1] = path end
  end
  for path in pairs(M.failures) do -- a script that never loaded is not in M.files
    if not M.files[path] then paths[#paths + 1] = path end
  end
  sort(paths)
  for _, path in ipairs(paths) do
    if not seen[path] then
      seen[path] = true
      if exists(path) then
        local class, err = M.register(path)
        if not class then failures[#failures + 1] = err end
      else -- removed: its type goes too
        local t = M.paths[path]
        if t and M.types[t] and info_of(M.types[t]).path == path then M.types[t] = nil end
        types_changed()
        M.paths[path], M.files[path], M.failures[path] = nil, nil, nil
      end
    end
  end
  return failures
end

--- {loaded = {{jobType, path}}, failed = {{path, error}}}, sorted by path.
function M.scripts()
  local loaded, failed = {}, {}
  for t, class in pairs(M.types) do loaded[#loaded + 1] = { jobType = t, path = info_of(class).path } end
  for path, err in pairs(M.failures) do failed[#failed + 1] = { path = path, error = err } end
  sort(loaded, function(a, b) return a.path < b.path end)
  sort(failed, function(a, b) return a.path < b.path end)
  return { loaded = loaded, failed = failed }
end

--- The loaded types with their SCHEMA, sorted by type: {{jobType, queue, fields = {{name, type,
-- required, default (absent when none)}}}} (fields sorted by name, as compiled).
function M.types_info()
  local out = {}
  for t, class in pairs(M.types) do
    local fields = {}
    for i, f in ipairs(info_of(class).fields) do
      fields[i] = { name = f.name, type = f.type, required = f.required, default = f.default }
    end
    out[#out + 1] = { jobType = t, queue = class.QUEUE_NAME, fields = fields }
  end
  sort(out, function(a, b) return a.jobType < b.jobType end)
  return out
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
  sort(out)
  return out
end

--- A new, unsaved job of a loaded type from params (a table); nil and why on bad params.
-- `class` (optional) is an instance of the type to use (a batch shares one).
function M.make_job(job_type, params, class)
  local spec = M.types[job_type]
  if not spec then return nil, "unknown job type " .. tostring(job_type), "not_found" end
  local values, why = schema.validate(info_of(spec).fields, params or {})
  if not values then return nil, why, "invalid" end
  class = class or M.instantiate(spec)
  local job = Job.new(class, values)
  if class.init then class.init(job) end
  return job
end

--- Makes `job` (a table, e.g. the run's own instance) an instance of class (a fresh one from
-- instantiate()) holding doc: the type's migrate() upgrades an older document first, then
-- init() runs. Raises on a failure.
function M.fill_job(job, class, doc, read_only)
  local stored_version = tostring(doc.schemaVersion)
  local version = tostring(info_of(class).spec.SCHEMA_VERSION)
  local migrated = stored_version ~= version and class.migrate
  if migrated then
    doc = class.migrate(doc, stored_version) or doc
    doc.schemaVersion = version
  end
  sandbox.set_class(job, class)
  if read_only then job_private.load_read_only(job) end -- (before any of its code runs)
  Job._apply_document(job, doc)
  if migrated then job._migrated_from = stored_version end
  if class.init then class.init(job) end
  return job
end

--- The job stored under uuid as an instance of its type; nil and why when it cannot be loaded.
-- `limited(spec, f)` (optional, else pcall) calls the job code that makes the instance.
function M.load_job(uuid, limited, read_only)
  local text = core.read(uuid)
  if not text then return nil, "no job " .. tostring(uuid), "not_found" end
  local doc, why = codec.decode(text)
  if type(doc) ~= "table" then return nil, "job " .. uuid .. " is not a JSON object: " .. tostring(why) end
  local spec = M.types[doc.jobType]
  if not spec then
    return nil, "job " .. uuid .. " has type " .. tostring(doc.jobType) .. ", which is not loaded",
           "unknown_type", doc
  end
  local build = function() return M.fill_job({}, M.instantiate(spec), doc, read_only) end
  local ok, job
  if limited then ok, job = limited(spec, build) else ok, job = pcall(build) end
  if not ok then
    local why = type(job) == "string" and job or "(an error value of type " .. type(job) .. ")"
    return nil, "job " .. uuid .. " cannot be loaded: " .. why, "job", doc
  end
  return job
end

--- The queue that holds a type's REPEAT schedule: its queue, or for a sharded one the shard
-- its name hashes to (the schedule's ticks and their jobs are one step on one shard).
function M.repeat_queue(class)
  local n = class.SHARDS or 1
  if n <= 1 then return class.QUEUE_NAME end
  return class.QUEUE_NAME .. "~" .. shards.hash("type:" .. class.JOB_TYPE) % n
end

--- Each loaded queue's SHARDS (Q -> n), checked against the store's record (raises when they
-- differ and the queue is not empty).
function M.shard_counts()
  if shard_counts then return shard_counts end
  local counts = {}
  for _, class in pairs(M.types) do counts[class.QUEUE_NAME] = class.SHARDS or 1 end
  for q, n in pairs(counts) do shards.ensure(q, n) end
  shard_counts = counts
  return counts
end

--- The loaded job types, and the queues they use (asked at every step of a worker: the types
-- and names kept until the types change; callers only read them), then the store queues to
-- claim from: those queues (or the named ones), a sharded queue's shards in this claim's order.
function M.claimable(named)
  if not claimable_types then
    local types = {}
    for t in pairs(M.types) do types[#types + 1] = t end
    sort(types)
    local limits = {} -- [limits] each type's RATE, CONCURRENCY and GROUP for the store, or false
    for i, t in ipairs(types) do limits[i] = Job._limits_spec(M.types[t]) or false end
    claimable_types, claimable_queues, claimable_limits = types, M.queues(), limits
  end
  local counts = M.shard_counts()
  local wanted = named and #named > 0 and named or claimable_queues
  local sharded = false
  for _, q in ipairs(wanted) do sharded = sharded or (counts[q] or 2) > 1 end
  if not sharded then return claimable_types, wanted, claimable_limits end
  return claimable_types, shards.claim_queues(wanted, counts), claimable_limits
end

return M
