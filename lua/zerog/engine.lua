--- zerog.engine: ZeroG's base worker. Given a claimed job (its document, handed over by the store's
-- claim with running = true already set), it builds the instance, runs it, and decides how the
-- run settles: finish with a result, release to run again after a delay, or bury a job that
-- cannot be loaded. The C side carries the decision out as one step in the store, under the
-- run's lease (so a run whose lease was lost settles nothing).
local core = require "zerog.core"
local codec = require "zerog.codec"
local errors = require "zerog.errors"
local registry = require "zerog.registry"
local Job = require "zerog.job"
local sandbox = require "zerog.sandbox"
local flow = require "zerog.flow"

-- the originals: zerog.api replaces the globals so a stopped run cannot catch its stop; every
-- other global the engine uses is captured here too, before any job code runs
local pcall, xpcall, type, tostring, tonumber, rawget = pcall, xpcall, type, tostring, tonumber, rawget
local getmetatable = debug.getmetatable
local dtraceback = debug.traceback
local fmt, match, find = string.format, string.match, string.find
local ceil, tointeger = math.ceil, math.tointeger
local info_of = sandbox.info_of

local M = {}

M.MAX_RESERVES_UNLOADABLE = 3
M.MAX_TIMEOUTS_UNLOADABLE = 2
M.DEFAULT_RETENTION = 7 * 24 * 3600
M.DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024

M.LAPSED_MESSAGE = "lease expired: the job's host stopped renewing it for longer than its TTR "
  .. "(it stalled, lost the store, or died)"
M.DIED_MESSAGE = "job was killed while running (its host died)"
M.RELEASED_EVENT = "Released - host stopping"
-- a run the store failed under (it refused or did not answer a write): it runs again, nothing
-- counted, and the event says why
M.STORE_FAILED_EVENT = "Released - the store failed: "

--- What the run recorded when its host's watchdog released it (see zg_config.on_overrun).
function M.overrun_message(timeout, ttr)
  local where = "in something the host cannot interrupt (a long pattern match, a blocking C "
    .. "function or a looping finalizer): its worker was replaced"
  if timeout and timeout > 0 then
    return string.format("the run exceeded the job type's TIMEOUT of %g s and did not stop %s",
      timeout, where)
  end
  return string.format("the run stopped responding for longer than its TTR of %g s plus 2 s %s",
    ttr, where)
end

-- A result code is a whole number from 0 to MAX_RESULT_CODE, or NO_RESULT (-1: requeue).
M.MAX_RESULT_CODE = 2147483647

--- Reads what run() returned: `code, delay`, `{code, delay}`, a numeric string, or anything else
-- (200). Returns the result code and the requeue delay (nil for the default; beyond MAX_DELAY
-- it is MAX_DELAY), or nil and why when a number is no valid code (1.5, -7, 1e300, NaN,
-- math.huge) or the delay no valid delay (negative, NaN).
function M.interpret(a, b)
  if type(a) == "table" then
    if #a == 0 then return 200 end
    a, b = rawget(a, 1), rawget(a, 2)
  end
  if type(a) == "string" then a = tonumber(a) end
  if type(a) ~= "number" then return 200 end
  local code = codec.to_integer(a)
  if not code or (code ~= Job.NO_RESULT and (code < 0 or code > M.MAX_RESULT_CODE)) then
    return nil, "run returned an invalid result code: " .. string.format("%.17g", a)
      .. " (a whole number from 0 to " .. M.MAX_RESULT_CODE .. ", or -1 to requeue)"
  end
  if type(b) ~= "number" then return code, nil end
  if b ~= b or b < 0 then
    return nil, "run returned an invalid requeue delay: " .. string.format("%.17g", b)
      .. " (seconds from 0; more than " .. Job.MAX_DELAY .. " counts as " .. Job.MAX_DELAY .. ")"
  end
  return code, math.min(b, Job.MAX_DELAY)
end

local function entry(msg, delay)
  return codec.encode { timeStamp = core.now(), msg = msg, delay = delay }
end

local function error_entry(code, msg)
  return codec.encode { timeStamp = core.now(), errorCode = code, msg = msg }
end

--- A number of the job type's policy (RETENTION, RETRY_DELAY, ...), read from the type as its
-- script loaded (checked then), not from the instance or class the job's code may have changed.
--- A setting of a job type as it was loaded (`class`: the type's record), or default.
-- (each type's settings are read once: the spec is the runtime's, out of every job's reach, and
-- a reload makes a new one; a run asks for them about 15 times)
local settings = setmetatable({}, { __mode = "k" }) -- spec -> name -> value, or false: default
local function class_policy(class, name, default)
  local known = settings[class]
  local v = known and known[name]
  if v == nil then
    v = type(class) == "table" and rawget(class, name)
    if v == nil or v == false then v = Job[name] end
    if type(v) ~= "number" or v ~= v or v < 0 then v = false end
    if type(class) == "table" then
      if not known then
        known = {}
        settings[class] = known
      end
      known[name] = v
    end
  end
  if v == false then return default end
  return v
end

--- A setting of the type of `job`, as the type was loaded (nothing a run sets on its class).
local function policy(job, name, default)
  local info = job ~= nil and info_of(getmetatable(job))
  return class_policy(info and info.spec, name, default)
end
M.policy = policy

--- The decision to record result `code` (with an event), starting the document's retention.
function M.finish(job, code, event)
  code = codec.to_integer(code) or Job.INTERNAL_ERROR
  local retention = policy(job, "RETENTION", M.DEFAULT_RETENTION)
  if retention > 3.15e10 then retention = 3.15e10 end
  return { action = "finish", code = code, event = event and entry(event), event_msg = event,
           completeness = 1.0, retention = retention > 0 and ceil(retention) or 0,
           deliver = job ~= nil and flow.has_parent(job), -- (flows: its end, to its parent)
           fields = { resultCode = codec.encode(code), completeness = "1",
                      updatedAt = codec.encode(core.now()) } }
end
local finish = M.finish

--- The decision to run the job again after delay seconds (with_delay: the event records it).
local function release(job, delay, event, with_delay)
  local completeness = job and rawget(job, "completeness") -- (no job code: a raw read)
  return { action = "release", delay = delay,
           event = event and entry(event, with_delay and delay or nil), event_msg = event,
           completeness = type(completeness) == "number" and completeness or 0,
           fields = { updatedAt = codec.encode(core.now()) } }
end

local traceback

--- The MEMORY_LIMIT (bytes) and TIMEOUT (seconds, 0: none) of the type of job, as loaded; kept
-- per spec (a run asks four times).
local limits_of_spec = setmetatable({}, { __mode = "k" })
local function run_limits(job)
  local info = job ~= nil and info_of(getmetatable(job))
  local spec = info and info.spec
  local known = spec and limits_of_spec[spec]
  if known then return known[1], known[2] end
  local memory = tointeger(class_policy(spec, "MEMORY_LIMIT", M.DEFAULT_MEMORY_LIMIT)) or M.DEFAULT_MEMORY_LIMIT
  local timeout = class_policy(spec, "TIMEOUT", 0)
  if spec then limits_of_spec[spec] = { memory, timeout } end
  return memory, timeout
end

--- Calls f(...) under the job type's TIMEOUT and MEMORY_LIMIT, enforced in C (a limit it trips
-- ends it whatever it does): job code, or engine code that touches the instance (whose methods
-- and fields, its class's __index included, are the job's to replace). Returns ok and f's
-- result (or the error). Inside another limited call it runs under the limits in force.
local function limited(job, f, ...)
  local memory, timeout = run_limits(job)
  -- (not broken into by an interrupt: a graceful stop must not turn a finished run into a
  -- failure; the engine looks at interrupted() afterwards)
  local stopped, ok, r = core.run_engine(memory, timeout, traceback, f, ...)
  if stopped then return false, stopped end
  return ok, r
end

--- job:name(...), the method looked up (job code, maybe) inside the limited call.
local function invoke(job, name, ...)
  local method = job[name]
  if type(method) ~= "function" then
    error("the job's " .. name .. " is not a function (its code replaced it)", 0)
  end
  return method(job, ...)
end

--- What the host logs and records of an error raised by job code it could not settle: never
-- job code (no tostring of a table).
local function describe(e)
  if type(e) == "string" then return e end
  return "(an error value of type " .. type(e) .. ")"
end

--- The delay before the next run after an error, the attempt-th (the job's errorCount): the
-- type's backoff(self, attempt) method (job code, under the type's limits), else its BACKOFF,
-- else RETRY_DELAY. Never negative, never more than a year; a backoff() that fails or returns
-- no number falls back on RETRY_DELAY (logged).
local MAX_RETRY_DELAY = Job.MAX_DELAY
local function retry_delay(job)
  local info = info_of(getmetatable(job))
  local spec = info and info.spec
  local attempt = math.max(1, codec.to_integer(rawget(job, "errorCount")) or 1)
  local fixed = policy(job, "RETRY_DELAY", 30)
  if type(spec) == "table" and type(rawget(spec, "backoff")) == "function" then
    local ok, d = limited(job, invoke, job, "backoff", attempt)
    if ok and type(d) == "number" and d == d and d >= 0 then return math.min(d, MAX_RETRY_DELAY) end
    core.log("warning", job.logId, "backoff() gave " .. (ok and type(d) or ("an error: " .. describe(d)))
      .. ", not a number of seconds >= 0: RETRY_DELAY is used")
    return fixed
  end
  local b = type(spec) == "table" and Job._backoff_policy(rawget(spec, "BACKOFF"))
  if not b then return fixed end
  -- (2^1024 is inf, and a delay of 0 times inf NaN: a retry that could not be settled)
  local d = b.type == "exponential" and b.delay * 2 ^ math.min(attempt - 1, 1023)
    or b.type == "linear" and b.delay * attempt or b.delay
  d = math.min(d, b.max or MAX_RETRY_DELAY, MAX_RETRY_DELAY)
  if b.jitter > 0 then d = d * (1 - b.jitter * math.random()) end -- (the VM's generator)
  return d
end
M.retry_delay = retry_delay

--- After an error: requeue (continue_running() says -1) or finish with what it says.
local function after_error(job)
  local ok, verdict = limited(job, invoke, job, "continue_running")
  if not ok then
    job:record_error(Job.INTERNAL_ERROR, "continue_running failed: " .. tostring(verdict))
    verdict = Job.INTERNAL_ERROR
  end
  verdict = codec.to_integer(verdict) or Job.INTERNAL_ERROR
  if verdict == Job.NO_RESULT then
    return release(job, retry_delay(job), "Error - restarting", true)
  end
  return finish(job, verdict, "Error - finished")
end

traceback = function(e)
  if errors.kind_of(e) then return e end
  return dtraceback(tostring(e), 2)
end

--- The first line of an error, for the host's log.
local function headline(e)
  return (match(tostring(e), "^[^\n]*"))
end

-- The store's words when e is a store error raised under a run ("zerog: StoreError: <words>",
-- after the position of the call that raised it), else nil
local function store_failure(e)
  return type(e) == "string" and match(e, "zerog: StoreError: ([^\n]*)") or nil
end

--- Decides how a run settles from what run() returned (ok) or raised.
local function settle(job, ok, a, b)
  core.settling() -- the engine's code (under limited()): a graceful stop does not break into it
  if ok and a == flow.WAIT_CHILDREN then return M.park(job) end -- (flows)
  if ok then
    local code, delay = M.interpret(a, b)
    if code == nil then -- an invalid result: the run's error
      core.log("error", job.logId, Job.INTERNAL_ERROR .. " " .. delay)
      job:record_error(Job.INTERNAL_ERROR, delay)
      return after_error(job)
    end
    if code == Job.NO_RESULT then return release(job, delay or policy(job, "REQUEUE_DELAY", 10)) end
    return finish(job, code)
  end
  local kind = errors.kind_of(a)
  if kind == errors.ErrorFinish or kind == errors.WarningFinish then
    local code = codec.to_integer(job.resultCode)
    if code == nil or code == Job.NO_RESULT then code = codec.to_integer(a.code) end
    return finish(job, code or Job.INTERNAL_ERROR, "Error - finished")
  end
  local store_words = store_failure(a)
  if store_words then
    -- the store failed under the run: not the job's failure; it runs again, nothing counted
    core.log("error", job.logId, "the store failed during the run: " .. store_words)
    return release(job, policy(job, "RETRY_DELAY", 30), M.STORE_FAILED_EVENT .. store_words, true)
  end
  if kind ~= errors.ErrorContinue and kind ~= errors.WarningContinue then
    core.log("error", job.logId, Job.INTERNAL_ERROR .. " " .. headline(a))
    job:record_error(Job.INTERNAL_ERROR, tostring(a), a)
  end
  return after_error(job)
end

--- The previous run did not settle: its lease lapsed, or its host died. Records it; returns a
-- decision when the job must not run again, nil when it restarts.
local function recover(job, prior)
  job:record_error(Job.INTERNAL_ERROR, prior == 1 and M.LAPSED_MESSAGE or M.DIED_MESSAGE)
  local ok, verdict = limited(job, invoke, job, "continue_running")
  verdict = ok and codec.to_integer(verdict) or Job.INTERNAL_ERROR
  if verdict == Job.NO_RESULT then
    job:record_event("Killed - Restarting")
    return nil
  end
  return finish(job, verdict, "Killed - Finished")
end

--- A claimed job whose document cannot be made into an instance: released to be tried again,
-- and buried (with the reason on the document) once it has failed too often.
local function unloadable(claim, why)
  core.log("error", "", "job " .. claim.uuid .. " cannot be loaded: " .. headline(why))
  if claim.reserves > M.MAX_RESERVES_UNLOADABLE or claim.timeouts > M.MAX_TIMEOUTS_UNLOADABLE then
    local reason = "cannot be loaded: " .. headline(why)
    return { action = "bury", reason = reason, error = error_entry(Job.INTERNAL_ERROR, reason),
             fields = { updatedAt = codec.encode(core.now()) } }
  end
  return release(nil, Job.RETRY_DELAY)
end
-- (an unloadable job has no instance: the base RETRY_DELAY)

--- Runs one claimed job {uuid, queue, jobType, id, reserves, timeouts, releases, prior, doc};
-- `job` is the table to make its instance (the C side knows it as the run's own). Returns the
-- settle decision {action, code, delay, event, error, reason, retention, fields}, or false when
-- the run's lease was lost.
local function memory_limit(class)
  return tointeger(class_policy(class, "MEMORY_LIMIT", M.DEFAULT_MEMORY_LIMIT)) or M.DEFAULT_MEMORY_LIMIT
end

local function plain_error(e) return e end

-- What the engine does with the instance before and after run() touches job code (the
-- instance's methods and fields are the job's to replace: its init() may have): it runs under
-- the type's limits too, and a failure there ends the job with the error recorded.
local function failed(job, log_id, what, e)
  local msg = what .. " failed: " .. headline(describe(e))
  core.log("error", log_id, msg)
  local d = finish(job, Job.INTERNAL_ERROR, "Error - finished")
  d.error = error_entry(Job.INTERNAL_ERROR, msg)
  return d
end

local function build(job, spec, doc)
  return registry.fill_job(job, registry.instantiate(spec), doc)
end

local function process(claim, job)
  local spec = registry.get(claim.jobType)
  if not spec then return release(nil, 1) end -- unloaded since the claim: another host's turn
  local doc, why = codec.decode(claim.doc)
  local built = type(doc) == "table"
  if built and doc.jobType ~= claim.jobType then
    built, why = false, "its document's jobType " .. tostring(doc.jobType)
      .. " does not match its queue entry's " .. claim.jobType
  elseif built then -- a fresh instance of the type for this run: its own class and globals, its
    -- script's top level run under the type's limits like run() itself
    local stopped, done, err = core.run_protected(memory_limit(spec), class_policy(spec, "TIMEOUT", 0),
                                                  plain_error, build, job, spec, doc)
    built, why = done and not stopped, stopped or err
  end
  core.settling() -- from here until run(), the engine's code, which a stop must not interrupt
  if not built and core.lost() then return false end
  if not built and core.interrupted() then -- stopped while the instance was built: not its fault
    return release(nil, 0, M.RELEASED_EVENT)
  end
  if not built then return unloadable(claim, why) end
  flow.start(job, doc, claim.queue) -- (flows: its round, its parent)
  local log_id = sandbox.run_log_id
  local prepared, early = limited(job, M._prepare, job, claim)
  if core.lost() then return false end
  local store_words = not prepared and store_failure(early)
  if store_words then -- the store's, not the job's: it runs again
    core.log("error", log_id, "the store failed preparing the run: " .. store_words)
    return release(job, policy(job, "RETRY_DELAY", 30), M.STORE_FAILED_EVENT .. store_words, true)
  end
  if not prepared then return failed(job, log_id, "preparing the run", early) end
  if early then return early end
  if core.interrupted() then -- stopping already (say, while the instance was built)
    return release(job, 0, M.RELEASED_EVENT)
  end
  local started = core.clock()
  local publishing = core.publishing()
  if publishing then
    core.publish(codec.encode { event = "start", uuid = claim.uuid, jobType = claim.jobType,
                                queue = claim.queue, host = core.host_id() })
  end
  local memory, timeout = run_limits(job)
  -- run() under its limits, enforced in C: a limit it trips ends it whatever it does (stopped
  -- is then the limit's message, and the error)
  local stopped, ok, a, b = core.run_protected(memory, timeout, traceback, invoke, job, "run")
  sandbox.restore() -- the collector and random generator as the next run expects them
  if core.lost() then return false end
  local decision
  if not ok and core.interrupted() then -- a graceful stop: not the job's failure
    decision = release(job, 0, M.RELEASED_EVENT)
  else
    if stopped then a = stopped end
    local decided, d = limited(job, settle, job, ok, a, b)
    if core.lost() then return false end
    if not decided then -- the job's overrides (continue_running, record_*) failed: it ends here
      d = failed(job, log_id, "settling the run", d)
    end
    decision = d
  end
  if publishing then
    core.publish(codec.encode { event = "end", uuid = claim.uuid, jobType = claim.jobType,
      queue = claim.queue, host = core.host_id(),
      outcome = decision.action == "finish" and "finished" or "requeued",
      result = decision.code or -1, error = not ok, seconds = core.clock() - started })
  end
  return decision
end

--- The decision to park a job until its children have ended (its run returned WAIT_CHILDREN): its
-- round goes up by one; a run that spawned nothing fails instead (it would wait for nothing).
function M.park(job)
  local parked, why = flow.parked(job)
  if not parked then
    core.log("error", job.logId, Job.INTERNAL_ERROR .. " " .. why)
    job:record_error(Job.INTERNAL_ERROR, why)
    return finish(job, Job.INTERNAL_ERROR, "Error - finished")
  end
  local completeness = rawget(job, "completeness")
  return { action = "park", event = entry("Waiting for children"), event_msg = "Waiting for children",
           completeness = type(completeness) == "number" and completeness or 0,
           fields = { updatedAt = codec.encode(core.now()), flowRound = codec.encode(parked.round) } }
end

--- Before run(): a result recorded but not settled, a migrated document, a previous run that
-- did not settle. Returns a decision when the job must not run now. (Under limited().)
function M._prepare(job, claim)
  core.settling() -- the engine's code: a graceful stop does not break into it
  if job.resultCode ~= Job.NO_RESULT then return finish(job, job.resultCode) end -- recorded, unsettled
  if job._migrated_from then -- the type's migrate() upgraded the stored document: keep it
    job:save()
    job:record_event("Migrated from schema version " .. job._migrated_from .. " to " .. job.schemaVersion)
    job._migrated_from = nil
  end
  if claim.prior == 3 then -- its host's watchdog released it: a timeout, as run() would have had
    local message = M.overrun_message(policy(job, "TIMEOUT", 0), policy(job, "TTR", Job.TTR))
    core.log("error", job.logId, Job.INTERNAL_ERROR .. " " .. message)
    job:record_error(Job.INTERNAL_ERROR, message)
    return after_error(job)
  elseif claim.prior ~= 0 then
    local decision = recover(job, claim.prior)
    if decision then return decision end
  end
  local failed_child, why = flow.failed_child(job) -- (flows: a fail_parent child failed)
  if failed_child then
    job:record_error(flow.FAILED_CHILD, why)
    local d = finish(job, flow.FAILED_CHILD, "Error - finished")
    d.fields.flowFailedSeen = codec.encode(failed_child)
    return d
  end
  return nil
end

--- Runs one claimed job: process() with the run's own instance known to zerog.job (the only
-- instance that may record the job's result).
function M.process(claim, job)
  sandbox.run_instance, sandbox.run_log_id = job, claim.jobType .. "_" .. claim.uuid
  local decision = process(claim, job)
  sandbox.run_instance, sandbox.run_log_id = nil, nil
  return decision
end

return M
