--- zerog.engine: ZeroG's base worker. Given a reserved queue message, it loads the job, runs it,
-- and settles the outcome: the result recorded, or a requeue with a delay. The C side reserves the
-- message and carries out the returned decision ("delete" or "release" with a delay in seconds).
local core = require "zerog.core"
local codec = require "zerog.codec"
local errors = require "zerog.errors"
local registry = require "zerog.registry"
local Job = require "zerog.job"

-- the originals: zerog.api replaces the globals so a stopped run cannot catch its stop
local pcall, xpcall = pcall, xpcall

local M = {}

M.MAX_RESERVES_UNLOADABLE = 3
M.MAX_TIMEOUTS_UNLOADABLE = 2
M.DEFAULT_RETENTION = 7 * 24 * 3600
M.DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024

--- Reads what run() returned: `code, delay`, `{code, delay}`, a numeric string, or anything else
-- (200). Returns the result code and the requeue delay (nil for the default).
function M.interpret(a, b)
  if type(a) == "table" then
    if #a == 0 then return 200 end
    a, b = a[1], a[2]
  end
  if type(a) == "string" then a = tonumber(a) end
  if type(a) ~= "number" then return 200 end
  local code = codec.to_integer(a) or 200
  if type(b) ~= "number" or b < 0 then b = nil end
  return code, b
end

--- Records the result; the same write starts the document's retention period.
function M.finish(job, code)
  local retention = job.RETENTION or M.DEFAULT_RETENTION
  job:_update_attrs({ running = false, resultCode = code, completeness = 1.0 },
                    retention > 0 and math.ceil(retention) or nil, 3)
  return "delete", 0, code
end
local finish = M.finish

--- After an error: requeue (continue_running() says -1) or finish with what it says.
local function after_error(job)
  local ok, verdict = pcall(job.continue_running, job)
  if not ok then
    job:record_error(Job.INTERNAL_ERROR, "continue_running failed: " .. tostring(verdict))
    verdict = Job.INTERNAL_ERROR
  end
  verdict = codec.to_integer(verdict) or Job.INTERNAL_ERROR
  if verdict == Job.NO_RESULT then
    job:record_event("Error - restarting")
    job:update_attrs { running = false }
    return "release", job.RETRY_DELAY
  end
  job:record_event("Error - finished")
  return finish(job, verdict)
end

local function traceback(e)
  if errors.kind_of(e) then return e end
  return debug.traceback(tostring(e), 2)
end

--- Settles a run: ok plus what run() returned or raised. First proves the reservation is still
-- ours (fencing): a host whose reservation lapsed and was taken must not finish the job too.
local function settle(job, ok, a, b)
  core.fence()
  if ok then
    local code, delay = M.interpret(a, b)
    if code == Job.NO_RESULT then
      job:update_attrs { running = false }
      return "release", delay or job.REQUEUE_DELAY
    end
    return finish(job, code)
  end
  local kind = errors.kind_of(a)
  if kind == errors.ErrorFinish or kind == errors.WarningFinish then
    job:record_event("Error - finished")
    local code = job.resultCode ~= Job.NO_RESULT and job.resultCode or a.code or Job.INTERNAL_ERROR
    return finish(job, code)
  end
  if kind ~= errors.ErrorContinue and kind ~= errors.WarningContinue then
    job:record_error(Job.INTERNAL_ERROR, tostring(a), a)
  end
  return after_error(job)
end

--- A job found with running = true was killed mid-run. Returns a decision when it must not
-- run again, nil when it restarts.
local function recover_killed(job)
  job:record_error(Job.INTERNAL_ERROR, "job was killed while running (found running when reserved)")
  local verdict = codec.to_integer(job:continue_running()) or Job.INTERNAL_ERROR
  if verdict == Job.NO_RESULT then
    job:record_event("Killed - Restarting")
    return nil
  end
  job:record_event("Killed - Finished")
  return finish(job, verdict)
end

--- Processes one reserved message {id, body, reserves, timeouts, releases, queue}.
-- Returns action ("delete" | "release"), delay in seconds, and the result code when finished.
function M.process(msg)
  local job = registry.load_job(msg.body)
  if not job then
    if msg.reserves > M.MAX_RESERVES_UNLOADABLE or msg.timeouts > M.MAX_TIMEOUTS_UNLOADABLE then
      return "delete", 0
    end
    return "release", Job.RETRY_DELAY
  end
  if job.resultCode ~= Job.NO_RESULT then return "delete", 0 end -- finished elsewhere (e.g. killed)
  if job._migrated_from then -- the type's migrate() upgraded the stored document: keep it
    job:save()
    job:record_event("Migrated from schema version " .. job._migrated_from .. " to " .. job.schemaVersion)
    job._migrated_from = nil
  end
  if job.running then
    local action, delay, code = recover_killed(job)
    if action then return action, delay, code end
  end
  job:update_attrs { running = true }
  job._run_started = true
  local started = core.clock()
  local publishing = core.publishing()
  if publishing then
    core.publish(codec.encode { event = "start", uuid = job.uuid, jobType = job.jobType,
                                queue = msg.queue, host = core.host_id() })
  end
  local memory = job.MEMORY_LIMIT or M.DEFAULT_MEMORY_LIMIT
  core.run_limits(memory, job.TIMEOUT or 0)
  local ok, a, b = xpcall(job.run, traceback, job)
  local exceeded = core.run_limits(0, 0)
  if not ok and exceeded == "memory" then
    a = string.format("the run exceeded the job type's MEMORY_LIMIT of %d bytes (%s)", memory, a)
  end
  local action, delay, code = settle(job, ok, a, b)
  if publishing then
    core.publish(codec.encode { event = "end", uuid = job.uuid, jobType = job.jobType, queue = msg.queue,
      host = core.host_id(), outcome = action == "release" and "requeued" or "finished",
      result = code or -1, error = not ok, seconds = core.clock() - started })
  end
  return action, delay, code
end

return M
