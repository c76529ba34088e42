--- zerog.api: the entry points the C host calls in its Lua VM. Each returns its result, or nil,
-- an error kind ("invalid", "script", "not_found", "job") and a message; a raised error is a
-- host fault (the C side reports it as a store or runtime error).
local codec = require "zerog.codec"
local registry = require "zerog.registry"
local engine = require "zerog.engine"

local M = {}

-- A job's fault must never end the host: job scripts share this VM, so exiting is taken away.
os.exit = function()
  error("os.exit is not available to job scripts: return a result code instead", 2)
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
  local job, why, kind = registry.make_job(job_type, params)
  if not job then return nil, kind, why end
  job:save()
  local id, err = job:enqueue { delay = delay, ttr = ttr, priority = priority }
  if not id then return nil, "store", "job " .. job.uuid .. " saved but not queued: " .. err end
  return job.uuid
end

M.process = engine.process

local VIEWS = {
  progress = function(job) return job:progress() end,
  info = function(job) return job:info() end,
  data = function(job) return job:get_data() end,
  dump = function(job) return job:dump() end,
}

function M.read(view, uuid)
  local job, why, kind = registry.load_job(uuid)
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
