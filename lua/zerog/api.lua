--- zerog.api: the entry points the C host calls in its Lua VM. Each returns its result, or nil,
-- an error kind ("invalid", "script", "not_found", "job") and a message; a raised error is a
-- host fault (the C side reports it as a store or runtime error).
local core = require "zerog.core"
local codec = require "zerog.codec"
local registry = require "zerog.registry"
local engine = require "zerog.engine"
local Job = require "zerog.job"

local M = {}

-- A job's fault must never end the host: job scripts share this VM, so exiting is taken away.
os.exit = function()
  error("os.exit is not available to job scripts: return a result code instead", 2)
end

-- A run that is being stopped (past its TIMEOUT, or its lease lost) must not be able to catch
-- that and carry on: pcall, xpcall and coroutine.resume raise it again once the call returns.
-- (The engine keeps the originals.)
do
  local raw_pcall, raw_xpcall, raw_resume = pcall, xpcall, coroutine.resume
  local function recheck(...)
    local why = core.stopping()
    if why then error(why, 0) end
    return ...
  end
  pcall = function(...) return recheck(raw_pcall(...)) end
  xpcall = function(...) return recheck(raw_xpcall(...)) end
  coroutine.resume = function(...) return recheck(raw_resume(...)) end
end

function M.load(path, source)
  local class, err = registry.register(path, source)
  if not class then return nil, "script", err end
  return class.JOB_TYPE
end

--- Checks a script without registering it.
function M.check(path)
  local class, err = registry.load(path)
  if not class then return nil, "script", err end
  return class.JOB_TYPE
end

function M.submit(job_type, params_json, delay, ttr, priority)
  local params = {}
  if params_json and params_json:match("%S") then
    local why
    params, why = codec.decode(params_json)
    if params == nil then return nil, "invalid", "params are not valid JSON: " .. why end
  end
  if type(params) == "table" and params.jobType ~= nil and (job_type == nil or params.jobType == job_type) then
    job_type, params.jobType = params.jobType, nil
  end
  if job_type == nil then return nil, "invalid", "no job type: name it, or give the params a jobType" end
  local job, why, kind = registry.make_job(job_type, params)
  if not job then return nil, kind, why end
  job:save()
  local id, err = job:enqueue { delay = delay, ttr = ttr, priority = priority }
  if not id then return nil, "store", "job " .. job.uuid .. " saved but not queued: " .. err end
  return job.uuid
end

--- Submits many jobs of one type: every line is validated first (nothing is stored if one is
-- bad), then the documents are created, queued and given their queue ids in three batched
-- round trips. Returns the list of uuids in order.
function M.submit_batch(job_type, lines, delay, ttr, priority)
  local jobs = {}
  for i, text in ipairs(lines) do
    local params, why = codec.decode(text)
    if params == nil then return nil, "invalid", "line " .. i .. ": params are not valid JSON: " .. why end
    local job, err, kind = registry.make_job(job_type, params)
    if not job then return nil, kind, kind == "invalid" and ("line " .. i .. ": " .. err) or err end
    jobs[i] = job
  end
  if #jobs == 0 then return {} end
  local qk, why = jobs[1]:_queue_kwargs { delay = delay, ttr = ttr, priority = priority }
  if not qk then return nil, "invalid", why end
  local creates, bodies = {}, {}
  for i, job in ipairs(jobs) do
    creates[i] = { job:key(), job:_stored_fields(), 0 }
    bodies[i] = job.uuid
  end
  local cas = core.save_many(creates)
  local ids = core.put_many(jobs[1].queueName, bodies, qk.priority, qk.delay, qk.ttr)
  local updates = {}
  for i, job in ipairs(jobs) do
    if not cas[i] then return nil, "store", "job " .. job.uuid .. " could not be created" end
    job.cas, job.queueJobId, job.queueKwargs = cas[i], ids[i], qk
    updates[i] = { job:key(), { queueJobId = codec.encode(ids[i]), queueKwargs = codec.encode(qk) }, cas[i] }
  end
  core.save_many(updates) -- a job already running may have moved on: its queue id is then set
  local uuids = {}
  for i, job in ipairs(jobs) do uuids[i] = job.uuid end
  return uuids
end

--- ZeroG's killJob: records error 410 "Killed by user" and result 410, and deletes the job's
-- queue message. A host running it loses its reservation and stops it.
function M.kill(uuid)
  local job, why, kind = registry.load_job(uuid)
  if not job then return nil, kind == "not_found" and "not_found" or "job", why end
  if job.resultCode ~= Job.NO_RESULT then
    return nil, "invalid", "job " .. uuid .. " has already finished with " .. job.resultCode
  end
  core.discard(job.queueName, job.queueJobId)
  job:record_error(410, "Killed by user")
  engine.finish(job, 410)
  return 410
end

function M.reload(current) return registry.reload(current) end

function M.scripts_json()
  local s = registry.scripts()
  return codec.encode { loaded = codec.array(s.loaded), failed = codec.array(s.failed) }
end

--- Makes `require(name)` return a table of wrappers around the C functions of `indexes`
-- (function name -> index for core.ccall); arguments and results cross as JSON.
function M.c_module(name, indexes)
  local module = {}
  for fname, index in pairs(indexes) do
    module[fname] = function(...)
      local args = codec.array(table.pack(...))
      args.n = nil
      local ok, text = pcall(core.ccall, index, codec.encode(args))
      if not ok then error(text, 2) end
      local result, why = codec.decode(text)
      if result == nil then error(name .. "." .. fname .. " returned invalid JSON: " .. why, 2) end
      return codec.integers(result)
    end
  end
  package.preload[name] = function() return module end
  package.loaded[name] = nil
  return true
end

M.process = engine.process

local VIEWS = {
  progress = function(job) return job:progress() end,
  info = function(job) return job:info() end,
  data = function(job) return job:get_data() end,
  dump = function(job) return job:dump() end,
  fields = function(job)
    local d = job:dump()
    d.events, d.warnings, d.errors = nil, nil, nil
    return d
  end,
  -- for followers (`zerog watch`): progress, the latest event and whether it runs
  status = function(job)
    local last = job.events[#job.events]
    return { completeness = job.completeness, result = job.resultCode, running = job.running,
             errorCount = job.errorCount, events = #job.events,
             lastEvent = last and last.msg or codec.null }
  end,
}

--- A job whose type this host has not loaded can still be read from its stored document.
local function raw_job(uuid)
  local text = core.load(Job.make_key(uuid))
  local doc = text and codec.decode(text)
  if type(doc) ~= "table" then return nil end
  local class = setmetatable({ __zerog = { fields = {} } }, { __index = Job })
  class.__index = class
  local job = setmetatable({}, class)
  Job._apply_document(job, doc)
  job.dump = function() return doc end -- every stored field, SCHEMA ones included
  return job
end

function M.read(view, uuid)
  local job, why, kind = registry.load_job(uuid)
  if not job and kind == "unknown_type" and view ~= "data" then job = raw_job(uuid) end
  if not job then return nil, kind == "not_found" and "not_found" or "job", why end
  local ok, value = pcall(VIEWS[view], job)
  if not ok then return nil, "job", view .. " of job " .. uuid .. " failed: " .. tostring(value) end
  local encoded_ok, text = pcall(codec.encode, value == nil and {} or value)
  if not encoded_ok then return nil, "job", view .. " of job " .. uuid .. ": " .. text end
  return text
end

function M.queues() return registry.queues() end

function M.queues_json() return codec.encode(codec.array(registry.queues())) end

return M
