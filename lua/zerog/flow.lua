--- zerog.flow: a job's children. A running job spawns children (self:spawn), returns
-- zerog.WAIT_CHILDREN to be parked (holding no worker) until every child has ended, and then
-- runs again with self:children() giving their ends; a child spawned with on_failure =
-- "fail_parent" (the default) that fails for good ends its parent as failed (424) instead. A
-- batch's callback is a parent parked from birth (submit_batch with a callback, zerog.api).
--
-- A child's uuid is made from its parent's uuid, the parent's round (how many times it was parked
-- and resumed) and its place among the spawns of the run, so a run made again after a crash, or
-- a spawn resent after a reconnect, makes the same children, not new ones.
local core = require "zerog.core"
local codec = require "zerog.codec"
local registry = require "zerog.registry"
local Job = require "zerog.job"
local sandbox = require "zerog.sandbox"

local error, type, tostring, ipairs, rawget, pcall = error, type, tostring, ipairs, rawget, pcall
local sort = table.sort

local M = {}

--- What a run returns to wait for its children.
M.WAIT_CHILDREN = setmetatable({}, {
  __name = "zerog.WAIT_CHILDREN",
  __tostring = function() return "zerog.WAIT_CHILDREN" end,
  __newindex = function() error("zerog.WAIT_CHILDREN is read-only", 2) end,
  __metatable = false,
})

--- The result code of a parent ended by a fail_parent child's failure (HTTP's Failed Dependency).
M.FAILED_CHILD = 424

local ON_FAILURE = { fail_parent = true, ignore = true }

-- the run's own instance -> {round, spawned, queue}
local runs = setmetatable({}, { __mode = "k" })

--- Before run(): the round the job is in (0 until it has been parked once), from its document.
function M.start(job, doc, queue)
  local round = codec.to_integer(doc.flowRound) or 0
  runs[job] = { round = round, spawned = 0, queue = queue }
  job.flowRound = round
  if type(doc.parentUuid) == "string" then job.parentUuid = doc.parentUuid end
end

local function own_run(self, what)
  local run = runs[self]
  if not run or self ~= sandbox.run_instance then
    error(what .. ": only the running job itself can " .. what .. " (in its run)", 3)
  end
  return run
end

--- self:spawn(type, params [, {queue, priority, delay, ttr, on_failure}]) -> the child's uuid.
function Job:spawn(job_type, params, options)
  local run = own_run(self, "spawn")
  if options ~= nil and type(options) ~= "table" then error("spawn: options must be a table", 2) end
  options = options or {}
  local on_failure = options.on_failure == nil and "fail_parent" or options.on_failure
  if not ON_FAILURE[on_failure] then
    error("spawn: on_failure must be \"fail_parent\" or \"ignore\", got " .. codec.shown(on_failure), 2)
  end
  local q = options.queue -- (a QUEUE_NAME's rule: the store refuses other names, which a run
  -- would take for a store outage and retry forever)
  if q ~= nil and not (type(q) == "string" and q:match("^[%w_%-%.:]+$") and #q < 100) then
    error("spawn: queue must be a name of letters, digits and _-.: (under 100 bytes), got "
      .. codec.shown(q), 2)
  end
  local child, why = registry.make_job(job_type, params)
  if not child then error("spawn: " .. tostring(why), 2) end
  local qk, bad = child:_queue_kwargs { delay = options.delay, priority = options.priority, ttr = options.ttr }
  if not qk then error("spawn: " .. bad, 2) end
  -- (counted once it is submitted: a spawn that failed, made again in the same run, makes the
  -- same child, not a second one that its parent would wait for)
  local place = run.spawned + 1
  local uuid = core.uuid_for(self.uuid .. "/" .. run.round .. "/" .. place)
  local queue = options.queue or child.queueName
  child.uuid, child.queueName, child.logId, child.queueKwargs = uuid, queue, job_type .. "_" .. uuid, qk
  child.parentUuid = self.uuid
  local submission = child:_submission(qk)
  submission.unique = nil -- (a child is made once by its uuid; a held key would strand its parent)
  submission.fields.parentUuid = codec.encode(self.uuid)
  submission.fields.parentQueue = codec.encode(run.queue)
  local info = codec.encode { uuid = uuid, jobType = job_type, queue = queue, onFailure = on_failure,
                              round = run.round, n = place }
  -- registered with the parent first (under its lease), then submitted: its end always counts
  core.flow_adopt(nil, nil, { { uuid = uuid, info = info, fail_parent = on_failure == "fail_parent" } })
  core.submit { submission }
  run.spawned = place
  return uuid
end

--- self:children() -> a list, in spawn order, of {uuid, jobType, queue, onFailure, round,
-- finished, resultCode, failed, result, lastError} (the last four once the child has ended).
function Job:children()
  local run = runs[self]
  local text = core.children(run and run.queue or nil, self.uuid)
  local out = {}
  local list = text and codec.decode(text)
  if type(list) ~= "table" then return out end
  for _, pair in ipairs(list) do
    local info, res = pair[1], pair[2]
    if type(info) == "table" then
      local c = { uuid = info.uuid, jobType = info.jobType, queue = info.queue,
                  onFailure = info.onFailure, round = info.round, n = info.n,
                  finished = type(res) == "table" }
      if c.finished then
        for _, k in ipairs { "resultCode", "failed", "result", "lastError" } do
          local v = res[k]
          if v ~= codec.null then c[k] = v end
        end
        c.resultCode = codec.to_integer(c.resultCode) or c.resultCode
      end
      out[#out + 1] = c
    end
  end
  sort(out, function(a, b)
    if (a.round or 0) ~= (b.round or 0) then return (a.round or 0) < (b.round or 0) end
    return (a.n or 0) < (b.n or 0)
  end)
  for _, c in ipairs(out) do c.n = nil end
  return out
end

-- kills a job by uuid (zerog.api sets it: the kill of `zerog kill`)
M.kill = nil

--- self:cancel(child_uuid) -> true, or false and why ("finished"): kills one of its own children
-- (running or waiting). Raises for a job that is not its child.
function Job:cancel(uuid)
  own_run(self, "cancel")
  for _, c in ipairs(self:children()) do
    if c.uuid == uuid then
      if c.finished then return false, "finished" end
      local code, why = M.kill(uuid)
      if code then return true end
      return false, why
    end
  end
  error("cancel: job " .. codec.shown(uuid) .. " is not a child of this job", 2)
end

--- self:cancel_children() -> how many it killed: every unfinished child of its own.
function Job:cancel_children()
  own_run(self, "cancel")
  local n = 0
  for _, c in ipairs(self:children()) do
    if not c.finished and M.kill(c.uuid) then n = n + 1 end
  end
  return n
end

--- Before run() of a job that waited for its children: when a fail_parent child failed, the
-- job ends here (424, an error naming the child), its unfinished children killed. Returns the
-- child's uuid and the error message, or nil. A job retried by hand after that runs (its script
-- decides), and that failure no longer wakes it from a later wait (flowFailedSeen).
function M.failed_child(job)
  local run = runs[job]
  if not run or run.round == 0 then return nil end
  local events = rawget(job, "events")
  local last = type(events) == "table" and events[#events]
  if type(last) == "table" and last.msg == "Retried by hand" then return nil end
  local failed
  -- (BaseJob's children(), not the job's own; a store that fails here fails the run's own reads
  -- next, which then runs again: not the job's failure)
  local read, kids = pcall(Job.children, job)
  if not read then return nil end
  for _, c in ipairs(kids) do
    if c.finished and c.failed and c.onFailure == "fail_parent" and c.round == run.round - 1 then
      failed = c
      break
    end
  end
  if not failed then return nil end
  for _, c in ipairs(kids) do
    if not c.finished then pcall(M.kill, c.uuid) end
  end
  local last = type(failed.lastError) == "table" and failed.lastError.msg
  return failed.uuid, "child " .. tostring(failed.uuid) .. " (" .. tostring(failed.jobType) .. ") failed with "
    .. tostring(failed.resultCode) .. (last and (": " .. tostring(last)) or "")
end

--- The decision for a run that returned WAIT_CHILDREN (nil and why when it spawned none).
function M.parked(job)
  local run = runs[job]
  if not run or run.spawned == 0 then
    return nil, "run returned zerog.WAIT_CHILDREN but spawned no child in this run"
  end
  return { round = run.round + 1 }
end

--- Whether a finished job's end must be handed to a parent right after its settle.
function M.has_parent(job)
  return type(rawget(job, "parentUuid")) == "string"
end

--- The registrations of kids ({uuid, jobType, queue} each) as the children a batch's callback is
-- submitted with (its submission's `kids`: registered in the same step as the callback is made),
-- with on_failure "ignore" (a batch's callback sees every end).
function M.registrations(kids)
  local list = {}
  for i, k in ipairs(kids) do
    list[i] = { uuid = k.uuid, fail_parent = false,
                info = codec.encode { uuid = k.uuid, jobType = k.jobType, queue = k.queue,
                                      onFailure = "ignore", round = 0, n = i } }
  end
  return list
end

return M
