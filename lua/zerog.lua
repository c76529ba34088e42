--- zerog: the module job scripts require (`local zerog = require "zerog"`). Each job's
-- environment gets a copy of this table (zerog.sandbox), with BaseJob as a read-only view and
-- `json` as a lua-cjson instance of its own.
local core = require "zerog.core"
local codec = require "zerog.codec"
local errors = require "zerog.errors"
local registry = require "zerog.registry"
local Job = require "zerog.job"
local job_private = require "zerog.job_private" -- (made by zerog.job)
local sandbox = require "zerog.sandbox"
local flow = require "zerog.flow"

-- the originals, captured before any job code runs
local error, tostring, ipairs = error, tostring, ipairs
local pack, concat = table.pack, table.concat

local M = {
  NO_RESULT = Job.NO_RESULT,
  INTERNAL_ERROR = Job.INTERNAL_ERROR,
  ErrorContinue = errors.ErrorContinue,
  ErrorFinish = errors.ErrorFinish,
  WarningContinue = errors.WarningContinue,
  WarningFinish = errors.WarningFinish,
  CasError = errors.CasError,
  LeaseLost = errors.LeaseLost,
  BaseJob = Job,
  WAIT_CHILDREN = flow.WAIT_CHILDREN, -- (flows: what a run returns to wait for its children)
  make_key = Job.make_key,
}

--- The job stored under uuid as a separate instance, or nil when there is none.
function M.get_job(uuid)
  if not codec.is_uuid(uuid) then return nil end -- nil, a number, 10 KB: no job has that name
  -- (read-only while a view runs: a job a view's code looks at is not written either)
  return (registry.load_job(uuid, nil, job_private.reading > 0))
end

--- A new, unsaved job of a loaded type; raises on an unknown type or bad params.
-- Save and enqueue it to run it: `local j = zerog.make_job("t", {...}); j:save(); j:enqueue()`.
function M.make_job(job_type, params)
  local job, why = registry.make_job(job_type, params)
  if not job then error(why, 2) end
  return job
end

--- The host's log, with the job's logId when a job is given as first argument.
M.log = {}
for _, level in ipairs { "info", "warning", "error" } do
  M.log[level] = function(...)
    local parts = pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    core.log(level, "", codec.log_text(concat(parts, " ", 1, parts.n)))
  end
end

--- Sleeps for the given seconds (fractions allowed) while the host keeps the job's reservation.
M.sleep = core.sleep

sandbox.set_public(M, Job, require "cjson")

return M
