--- zerog.sandbox: the environment job scripts run in.
--
-- Job scripts are untrusted code in the host's VM. Each use of a job type (a run, a submit's
-- init(), a read's get_data(), a get_job() from another job) gets an environment of its own:
-- an `_ENV` table that is filled on first use of each name with the safe standard library
-- (fresh copies of its tables), the public `zerog` module (a fresh copy too) and a `require` of
-- helper modules from the `lib/` folder beside the jobs. Nothing a job can reach is shared with
-- another use or with the runtime: what is shared (the string metatable, the metatables of job
-- classes, arrays and errors, BaseJob) is protected with `__metatable` or handed out through a
-- fresh read-only view, and the runtime's own modules are never in a job's reach.
--
-- Each script is compiled once, as text, with `local _ENV = ...;` in front of its first line
-- (so its line numbers do not move): calling the compiled chunk with an environment runs the
-- script in it, and every function it defines captures that environment, so two uses of the
-- same chunk never share globals. Running the chunk is all a fresh instance of a type costs.
--
-- What the operator can open for a host (zg_config.sandbox_open, `--sandbox-open`): io, os,
-- debug, package, bytecode, gc. See the README's "Security model".

-- Every original this module hands out or uses, captured before any job code has run.
local _G = _G
local rawget, rawset, pairs, ipairs = rawget, rawset, pairs, ipairs
local type, select, tostring, error, setmetatable = type, select, tostring, error, setmetatable
local raw_load, raw_require, collectgarbage, pcall = load, require, collectgarbage, pcall
local raw_getmetatable = debug.getmetatable
local io_open = io.open
local concat = table.concat
local gsub, find, sub, match, fmt = string.gsub, string.find, string.sub, string.match, string.format
local randomseed = math.randomseed

local core = require "zerog.core"

local M = {}

--- What the runtime knows of a loaded type: {fields, path, chunk, spec, class_mt, env_mt}. Every
-- class of the type (its spec, and each instance of it made by the registry) has class_mt for
-- metatable, which holds the record: a job can get neither (both are protected), and only
-- records made here count (a job's own metatable chain cannot pass for one).
local genuine = setmetatable({}, { __mode = "k" })

--- A new record for a type: class_mt gives the classes base's methods.
function M.new_info(base, t)
  t.class_mt = { __index = base, __metatable = false, zerog_info = t }
  genuine[t] = true
  return t
end

--- The record of a class, or nil when it is not one the registry made. (The last class asked
-- about is remembered: a run asks about its own class for every field it reads or writes;
-- weakly, so a finished run's class and environment are not kept alive by the memo.)
local last = setmetatable({}, { __mode = "v" })
function M.info_of(class)
  if class ~= nil and class == last.class then return last.info end
  local mt = raw_getmetatable(class)
  local info = type(mt) == "table" and rawget(mt, "zerog_info")
  if info and genuine[info] and info.class_mt == mt then
    last.class, last.info = class, info
    return info
  end
  return nil
end

--- The instance the engine made for the run in progress, and its logId (print logs under it);
-- nil between runs. Set by the engine.
M.run_instance, M.run_log_id = nil, nil

--- What the operator opened ("io", "os", ...) -> true; set by configure().
local opened = {}
M.LIBRARIES = { io = true, os = true, debug = true, package = true, bytecode = true, gc = true }

-- The string metatable: methods of strings ("x"):upper() keep working, but getmetatable("")
-- gives this text instead of the table, so no job can change what string methods do.
local STRING_METATABLE_SHOWN = "the string metatable is not available to job scripts"
do
  local smt = raw_getmetatable("")
  local methods = {}
  for k, v in pairs(string) do methods[k] = v end
  methods.dump = nil -- no binary chunks: string methods cannot dump functions either
  smt.__index = methods
  smt.__metatable = STRING_METATABLE_SHOWN
end

--- Copies a table one level deep (a fresh table each time: a job may change it at will).
local function copy(t, out)
  out = out or {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

--- Gives obj the metatable class in trusted code, refusing a class that has got a __gc field
-- since it was checked (setmetatable marks an object for finalization when its metatable has
-- one at that moment).
function M.set_class(obj, class)
  if rawget(class, "__gc") ~= nil then
    error("a job type's table may not have a __gc field: finalizers are not available to job scripts", 0)
  end
  return setmetatable(obj, class)
end

-- Finalizers are not available to job scripts (one could run after its run, outside its
-- limits): setmetatable refuses a metatable with a __gc field.
local function safe_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc finalizers are not available to job scripts", 2)
  end
  local ok, result = pcall(setmetatable, t, mt)
  if not ok then error(result, 2) end -- named at the job's line
  return result
end

local GC_ALLOWED = { count = true, collect = true, step = true, isrunning = true }
local function safe_collectgarbage(opt, ...)
  if opt == nil then opt = "collect" end
  if not GC_ALLOWED[opt] then
    error("collectgarbage: \"" .. tostring(opt) .. "\" is not available to job scripts "
      .. "(count, collect, step and isrunning are)", 2)
  end
  return collectgarbage(opt, ...)
end

-- math.randomseed changes the VM's one generator: after a run that seeded it, the runtime
-- seeds it again at random (restore()), so the next run cannot predict it.
local reseed = false
local function safe_randomseed(...)
  reseed = true
  return randomseed(...)
end

-- The base functions every environment gets as they are (the pcall/xpcall/coroutine.resume
-- the runtime made for job code are read from _G when the first environment is made).
local BASE_NAMES = { "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
                     "rawlen", "rawset", "select", "tonumber", "tostring", "type", "xpcall",
                     "getmetatable", "_VERSION" }
local LIB_NAMES = { "string", "table", "math", "utf8", "coroutine" }
local OS_SAFE = { "time", "clock", "date", "difftime" }
local OS_CLOSED = { "exit", "execute", "remove", "rename", "getenv", "tmpname", "setlocale" } -- raise

local template     -- name -> value, or name -> function(env) making the env's own

local lib_copiers  -- name -> function returning a fresh copy of the library

--- A function returning a fresh copy of t (string keys) made by one table constructor, so the
-- copy is sized once instead of growing key by key (a few hundred ns per library).
local function make_copier(t)
  local fields = {}
  for k in pairs(t) do
    if type(k) ~= "string" then return function() return copy(t) end end
    fields[#fields + 1] = fmt("[%q] = s[%q]", k, k)
  end
  local source = "local s = ...; return function() return { " .. concat(fields, ", ") .. " } end"
  -- (load returns the failure, even running out of memory; raised as it is, a host too small
  -- for its runtime says "not enough memory", not "attempt to call a nil value")
  local chunk, why = raw_load(source, "=copier", "t", {})
  if not chunk then error(why, 0) end
  return chunk(t)
end

--- The job's zerog module: filled on first use of each name from the public module, with its
-- log table copied, BaseJob as a read-only view and json as a cjson instance of its own (its
-- settings are per instance). A job changes its own copy only.
local job_view_mt, cjson, copy_log, zerog_public

--- The deepest nesting zerog.json may be set to encode or decode (lua-cjson's default): cjson
-- recurses in C once a level, and a limit raised to millions overflowed the C stack (SIGSEGV).
M.JSON_MAX_DEPTH = 1000

local function new_json()
  local json = cjson.new()
  for _, name in ipairs { "encode_max_depth", "decode_max_depth" } do
    local set = json[name]
    json[name] = function(depth, ...)
      if type(depth) == "number" and depth > M.JSON_MAX_DEPTH then
        error("zerog.json." .. name .. ": a depth of at most " .. M.JSON_MAX_DEPTH
          .. " is available to job scripts", 2)
      end
      return set(depth, ...)
    end
  end
  return json
end

local ZEROG_MT = {
  __index = function(z, k)
    local v
    if k == "json" then v = new_json()
    elseif k == "log" then v = copy_log()
    elseif k == "BaseJob" then v = setmetatable({}, job_view_mt)
    else v = zerog_public[k] end
    if v ~= nil then rawset(z, k, v) end
    return v
  end,
  __metatable = false,
}
local function new_zerog()
  return setmetatable({}, ZEROG_MT)
end

-- Registered C modules (zg_register_module): name -> table of functions; each require in an
-- env gets a copy.
local c_modules = {}
function M.register_c_module(name, module) c_modules[name] = module end

-- Compiled helper modules: path -> chunk (false: no such file). Cleared by forget_helpers().
local helpers = {}
function M.forget_helpers() helpers = {} end

local compile -- forward

--- The require of an environment: "zerog", a registered C module, or a helper module
-- `<jobs dir>/lib/NAME.lua` (dots in NAME are folders), run in the same environment and kept
-- for the rest of this environment's life only.
local function make_require(env)
  local loaded = {}
  return function(name)
    if type(name) ~= "string" then error("require: the module name must be a string", 2) end
    local have = loaded[name]
    if have ~= nil then return have end
    local value
    if name == "zerog" then
      value = new_zerog()
    elseif c_modules[name] then
      value = copy(c_modules[name])
    else
      local lib = raw_getmetatable(env).lib
      local path = match(name, "^[%a_][%w_]*$") and (lib .. "/" .. name .. ".lua")
        or (match(name, "^[%a_][%w_]*[%.%w_]*[%w_]$") and not find(name, "..", 1, true)
            and (lib .. "/" .. gsub(name, "%.", "/") .. ".lua"))
      local chunk = path and helpers[path]
      if path and chunk == nil then
        local source = nil
        local f = io_open(path, "rb")
        if f then
          source = f:read("a")
          f:close()
        end
        if source then
          local err
          chunk, err = compile(source, "@" .. path)
          if not chunk then error(err, 2) end
        else
          chunk = false
        end
        helpers[path] = chunk
      end
      if chunk then
        value = chunk(env, name, path)
        if value == nil then value = true end
      elseif opened.package then
        value = raw_require(name)
      else
        error("module '" .. name .. "' not found: job scripts may require \"zerog\", the modules "
          .. "the host registered, and helper modules from " .. lib .. "/ (" .. (path or "a name of "
          .. "letters, digits, _ and dots") .. ")", 2)
      end
    end
    loaded[name] = value
    return value
  end
end

--- The load of an environment: text chunks only (unless bytecode is opened), in this
-- environment unless another is given.
local function make_load(env)
  return function(chunk, chunkname, mode, ...)
    if not opened.bytecode then mode = "t" end
    if select("#", ...) > 0 then return raw_load(chunk, chunkname, mode, ...) end
    return raw_load(chunk, chunkname, mode, env)
  end
end

local function make_print(env)
  return function(...)
    local n = select("#", ...)
    local parts = { ... }
    for i = 1, n do parts[i] = tostring(parts[i]) end
    core.log("info", M.run_log_id or "", concat(parts, "\t", 1, n))
  end
end

local function build_template()
  local lib_sources = {}
  template = {}
  for _, name in ipairs(BASE_NAMES) do template[name] = _G[name] end
  template.setmetatable = safe_setmetatable
  template.collectgarbage = opened.gc and collectgarbage or safe_collectgarbage
  template.require = make_require
  template.load = make_load
  template.print = make_print
  template._G = function(env) return env end
  for _, name in ipairs(LIB_NAMES) do lib_sources[name] = _G[name] end
  local safe_string = copy(string)
  if not opened.bytecode then safe_string.dump = nil end
  lib_sources.string = safe_string
  local safe_math = copy(math)
  safe_math.randomseed = safe_randomseed
  lib_sources.math = safe_math
  if opened.os then
    lib_sources.os = _G.os
  else
    local o = {}
    for _, name in ipairs(OS_CLOSED) do
      o[name] = function()
        error("os." .. name .. " is not available to job scripts" .. (name == "exit"
          and ": return a result code instead" or ""), 2)
      end
    end
    for _, name in ipairs(OS_SAFE) do o[name] = os[name] end
    lib_sources.os = o
  end
  if opened.io then
    lib_sources.io = _G.io
    template.dofile = function(env) return function(path)
      local chunk, err = _G.loadfile(path, opened.bytecode and "bt" or "t", env)
      if not chunk then error(err, 2) end
      return chunk()
    end end
    template.loadfile = function(env) return function(path, mode, ...)
      if not opened.bytecode then mode = "t" end
      if select("#", ...) > 0 then return _G.loadfile(path, mode, ...) end
      return _G.loadfile(path, mode, env)
    end end
  end
  if opened.debug then lib_sources.debug = _G.debug end
  if opened.package then lib_sources.package = _G.package end
  lib_copiers = {}
  for name, source in pairs(lib_sources) do lib_copiers[name] = make_copier(source) end
end

-- Names whose template entry makes the environment's own (a closure over it).
local PER_ENV = { require = true, load = true, print = true, _G = true, dofile = true, loadfile = true }

--- Fills a global of an environment on its first use.
local function env_index(env, name)
  local copier = lib_copiers[name]
  local v
  if copier then
    v = copier()
  else
    v = template[name]
    if v ~= nil and PER_ENV[name] then v = v(env) end
  end
  if v ~= nil then rawset(env, name, v) end
  return v
end

--- The metatable of the environments of a type whose helper modules are in lib (`<dir>/lib`).
function M.env_metatable(lib)
  return { __index = env_index, __metatable = false, lib = lib or "lib" }
end

--- A fresh environment for one use of a job type (env_mt: its type's env_metatable()).
function M.new_env(env_mt)
  if not template then build_template() end
  return setmetatable({}, env_mt)
end

local PREFIX = "local _ENV = ...; "

--- Compiles a script's source (text only) into a chunk that, called with an environment,
-- runs the script in it. Returns the chunk, or nil and the message.
compile = function(source, chunkname)
  if sub(source, 1, 3) == "\239\187\191" then source = sub(source, 4) end -- a UTF-8 BOM
  if sub(source, 1, 1) == "#" then source = "--" .. source end         -- a #! line
  if sub(source, 1, 4) == "\27Lua" then
    return nil, sub(chunkname, 2) .. ": a job script must be Lua source text, not a binary chunk"
  end
  return raw_load(PREFIX .. source, chunkname, "t", {})
end
M.compile = compile

--- Reads and compiles a script file; nil and the message when it cannot.
function M.compile_file(path)
  local f, err = io_open(path, "rb")
  if not f then return nil, "cannot open " .. tostring(err) end
  local source = f:read("a")
  f:close()
  if not source then return nil, path .. ": cannot read" end
  return compile(source, "@" .. path)
end

--- The helper folder of a script at path: `lib` beside it.
function M.lib_of(path)
  local dir = match(path, "^(.*)/[^/]*$")
  return (dir or ".") .. "/lib"
end

--- Sets what the operator opened: a comma-separated list of LIBRARIES names (or nil).
function M.configure(list)
  opened = {}
  for name in (list or ""):gmatch("[^,%s]+") do
    if not M.LIBRARIES[name] then
      error("sandbox_open: unknown library " .. name .. " (io, os, debug, package, bytecode, gc)", 0)
    end
    opened[name] = true
  end
  template = nil
end

--- The runtime's hand-over of the public module and the read-only view of BaseJob.
function M.set_public(zerog, job_class, cjson_module)
  cjson, zerog_public = cjson_module, zerog
  copy_log = make_copier(zerog.log)
  job_view_mt = {
    __index = job_class,
    __newindex = function() error("zerog.BaseJob is read-only to job scripts", 2) end,
    __metatable = false,
  }
end

--- After a run, in trusted code: whatever the run did to the collector and the random
-- generator, the next run starts with an incremental, running collector and an unseeded
-- generator.
function M.restore()
  -- (a restart when it runs already would cost a forced collector step: ~40 us a run)
  if not collectgarbage("isrunning") then collectgarbage("restart") end
  collectgarbage("incremental") -- nothing to do when it is
  if reseed then
    reseed = false
    randomseed()
  end
end

M.STRING_METATABLE_SHOWN = STRING_METATABLE_SHOWN

return M
