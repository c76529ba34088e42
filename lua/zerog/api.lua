--- zerog.api: the entry points the C host calls in its Lua VM. Each returns its result, or nil,
-- an error kind ("invalid", "script", "not_found", "job") and a message; a raised error is a
-- host fault (the C side reports it as a store or runtime error).
local core = require "zerog.core"
local codec = require "zerog.codec"
local registry = require "zerog.registry"
local shards = require "zerog.shards"
local flow = require "zerog.flow"
local engine = require "zerog.engine"
local Job = require "zerog.job"
local job_private = require "zerog.job_private" -- (made by zerog.job)
local sandbox = require "zerog.sandbox"

-- the originals, captured before any job code runs (job code never reaches these globals: it runs
-- in the sandbox; this keeps the runtime independent of them all the same)
-- (not pcall: the block below replaces the global for job code)
local ipairs, pairs, type, tostring, error = ipairs, pairs, type, tostring, error
local setmetatable = setmetatable
local pack, ceil, tointeger = table.pack, math.ceil, math.tointeger
local getmetatable = debug.getmetatable
require "zerog" -- the public module job scripts get copies of

-- what the operator opened for job scripts (zg_config.sandbox_open, checked by the C side)
sandbox.configure(debug.getregistry()["zerog.sandbox_open"])

local M = {}

--- Calls f(...) under the limits of the job type spec (its MEMORY_LIMIT, and its TIMEOUT, else
-- its TTR), enforced in C: the job code a submit or a read runs outside any run (the script's
-- top level, init(), get_data(), the instance's methods it may have replaced) cannot hang or
-- exhaust the host that serves them. Returns ok and f's first result, or false and the error
-- (a limit's message when one stopped it). Inside a run: under the run's limits.
local function identity(e) return e end
local function under_limits(spec, f, ...)
  local info = sandbox.info_of(spec)
  local loaded = info and info.spec or Job
  local memory = tointeger(loaded.MEMORY_LIMIT) or engine.DEFAULT_MEMORY_LIMIT
  local timeout = loaded.TIMEOUT
  if type(timeout) ~= "number" or not (timeout > 0) then timeout = loaded.TTR end
  if type(timeout) ~= "number" or not (timeout > 0) then timeout = Job.TTR end
  local stopped, ok, r = core.run_protected(memory, timeout, identity, f, ...)
  if stopped then return false, stopped end
  return ok, r
end

--- An error raised by job code, as text, without running job code (no tostring of a table).
local function describe(e)
  if type(e) == "string" then return e end
  return "(an error value of type " .. type(e) .. ")"
end

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
  -- a message handler called for a stop runs inside the VM's hook, where hooks are off: a
  -- job's handler is not called at all for a stop (else a looping handler could not be ended)
  xpcall = function(f, handler, ...)
    if type(handler) == "function" then
      local job_handler = handler
      handler = function(e)
        if core.stopping() then return e end
        return job_handler(e)
      end
    end
    return recheck(raw_xpcall(f, handler, ...))
  end
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

--- A store failure's message without the prefix the C side marks it with.
local function store_words(e)
  return (tostring(e):gsub("^.-zerog: StoreError: ", ""))
end

function M.submit(job_type, params_json, delay, ttr, priority)
  local params = {}
  if params_json and params_json:match("%S") then
    local why
    params, why = codec.decode_input(params_json)
    if params == nil then return nil, "invalid", "params " .. why end
  end
  if type(params) == "table" and params.jobType ~= nil and (job_type == nil or params.jobType == job_type) then
    job_type, params.jobType = params.jobType, nil
  end
  if job_type == nil then return nil, "invalid", "no job type: name it, or give the params a jobType" end
  if type(job_type) ~= "string" then return nil, "invalid", "the jobType must be a string" end
  if not registry.get(job_type) then -- named by its start only, as valid UTF-8
    return nil, "not_found", "unknown job type " .. codec.shown(job_type)
  end
  local ok, r = under_limits(registry.get(job_type), M._submit_one, job_type, params, delay, ttr, priority)
  if not ok then return nil, "job", "a job of type " .. job_type .. " could not be made: " .. describe(r) end
  return r[1], r[2], r[3] -- (uuid, "exists": the job holding the same unique key)
end

--- The job code of a submit (under_limits): the new job, its init(), its enqueue. Returns
-- {uuid} or {nil, kind, message}.
function M._submit_one(job_type, params, delay, ttr, priority)
  local job, why, kind = registry.make_job(job_type, params)
  if not job then return { nil, kind, why } end
  local qk, bad = job:_queue_kwargs { delay = delay, ttr = ttr, priority = priority }
  if not qk then return { nil, "invalid", bad } end
  local id, err, holder = job:enqueue(qk)
  if not id and err == "exists" then return { holder, "exists" } end
  if not id then
    local kind = tostring(err):find("zerog: StoreError: ", 1, true) and "store" or "invalid"
    local words = store_words(err)
    -- Redis's refusal of the step (OOM, NOPERM, READONLY, ...: an error reply) made nothing;
    -- a step sent without a reply (a stall past the store timeout, a lost connection) may be
    -- in the server's socket, and the server makes the job once it goes on
    if kind == "store" and not core.store_refused(words) then
      return { nil, kind, "job " .. job.uuid .. " may have been submitted: the store did not answer ("
        .. words .. "); a submit it received is made once it goes on: look the job up (zerog info "
        .. job.uuid .. ") before submitting it again" }
    end
    return { nil, kind, "job " .. job.uuid .. " was not submitted: " .. words }
  end
  return { job.uuid }
end

--- core.submit of submissions grouped by queue (a sharded queue's jobs go to several shards:
-- the store makes one script call per run of one queue, so one per shard touched), the
-- results in the submissions' order. With partial, as core.submit's (false for a job not made,
-- and the store's words after the results when some were made and others not).
local function submit_grouped(submissions, partial)
  local order, mixed = {}, false
  for i, s in ipairs(submissions) do
    order[i] = i
    mixed = mixed or s.queue ~= submissions[1].queue
  end
  if not mixed then return core.submit(submissions, partial) end
  table.sort(order, function(a, b)
    local qa, qb = submissions[a].queue, submissions[b].queue
    if qa ~= qb then return qa < qb end
    return a < b
  end)
  local sorted = {}
  for k, i in ipairs(order) do sorted[k] = submissions[i] end
  local got, failure = core.submit(sorted, partial)
  local created = {}
  for k, i in ipairs(order) do created[i] = got[k] end
  return created, failure
end

--- A batch's callback whose batch was not made whole is deleted (it would wait for good for the
-- jobs that were not made; the ends of those that were find no parent and are dropped). Says
-- what became of it.
local function drop_callback(uuid)
  local ok, why = pcall(core.remove, uuid)
  if ok then return "its callback " .. uuid .. " was deleted (it would have waited for them all)" end
  return "its callback " .. uuid .. " could not be deleted (" .. store_words(why)
    .. "): delete it (zerog delete " .. uuid .. "), else it waits for good"
end

--- "1-3, 7" for the numbers of a sorted list
local function ranges(list)
  local out, i = {}, 1
  while i <= #list do
    local j = i
    while j < #list and list[j + 1] == list[j] + 1 do j = j + 1 end
    out[#out + 1] = i == j and tostring(list[i]) or (list[i] .. "-" .. list[j])
    i = j + 1
  end
  return table.concat(out, ", ")
end

--- Submits many jobs of one type: every line is validated first (nothing is stored if one is
-- bad), then every job is created with its queue entry, atomically each, in a few batched
-- round trips. Returns the list of uuids in order.
function M.submit_batch(job_type, lines, delay, ttr, priority, then_type, then_params)
  local jobs = {}
  local spec, class = registry.get(job_type), nil
  if spec and #lines > 0 then -- one instance of the type for the whole batch
    local ok, made = under_limits(spec, registry.instantiate, spec)
    if not ok then return nil, "job", describe(made) end
    class = made
  end
  if not spec then spec = Job end
  -- Each line's job code (init(), the instance's methods) runs under the type's limits on its
  -- own, as one submit's does: the limits are one job's, and a batch is many jobs (under one
  -- window for the whole batch, a type with an 8 MiB MEMORY_LIMIT could not submit 5,000 jobs
  -- at once, nor one with a TIMEOUT a batch that took longer to check). Every line is checked
  -- before anything touches the store.
  local function make_line(i, params)
    local job, err, kind = registry.make_job(job_type, params, class)
    if not job then return { nil, kind, kind == "invalid" and ("line " .. i .. ": " .. err) or err } end
    return { job }
  end
  local function failed(i, r)
    return nil, "job", "the batch's jobs could not be made: line " .. i .. ": " .. describe(r)
  end
  for i, text in ipairs(lines) do
    local params, why = {}, nil -- an empty line is no params, as for submit
    if text:match("%S") then params, why = codec.decode_input(text) end
    if params == nil then return nil, "invalid", "line " .. i .. ": params " .. why end
    local made, r = under_limits(spec, make_line, i, params)
    if not made then return failed(i, r) end
    if r[1] == nil then return nil, r[2], r[3] end
    jobs[i] = r[1]
  end
  local submissions, qk = {}, nil
  if #jobs > 0 then
    local made, r = under_limits(spec, function(job)
      return { job:_queue_kwargs { delay = delay, ttr = ttr, priority = priority } }
    end, jobs[1])
    if not made then return failed(1, r) end
    if not r[1] then return nil, "invalid", r[2] end
    qk = r[1]
  end
  local function submission_of(i, job)
    job.queueKwargs = qk
    local built, submission = pcall(job._submission, job, qk)
    if not built then return { nil, "invalid", "line " .. i .. ": " .. tostring(submission) } end
    return { submission }
  end
  for i, job in ipairs(jobs) do
    local made, r = under_limits(spec, submission_of, i, job)
    if not made then return failed(i, r) end
    if r[1] == nil then return nil, r[2], r[3] end
    submissions[i] = r[1]
  end
  if #jobs == 0 and then_type then return nil, "invalid", "a batch with a callback needs a job" end
  if #jobs == 0 then return {} end
  local then_uuid
  if then_type then -- (flows: the callback, parked from birth, waits for the batch's jobs)
    local why1, why2
    then_uuid, why1, why2 = M._submit_callback(then_type, then_params, submissions)
    if not then_uuid then return nil, why1, why2 end
  end
  local ok, created, failure = pcall(submit_grouped, submissions, true)
  if not ok then
    local kind = tostring(created):find("zerog: StoreError: ", 1, true) and "store" or "invalid"
    return nil, kind, "the batch was not submitted: " .. store_words(created)
      .. (then_uuid and "; " .. drop_callback(then_uuid) or "")
  end
  local uuids, missing = {}, {}
  for i, job in ipairs(jobs) do -- (a unique key's holder; "" for a job the store did not make)
    uuids[i] = created[i] and (created[i][3] or job.uuid) or ""
    if not created[i] then missing[#missing + 1] = i end
  end
  local function flush(job, made)
    job.queueJobId, job.cas = made[1], made[2]
    job:_flush_pending()
  end
  for i, job in ipairs(jobs) do -- (each job's under its own limits, as above)
    if created[i] and not created[i][3] and job_private.has_pending(job) then
      local flushed, err = under_limits(spec, flush, job, created[i])
      if not flushed then
        return nil, "job", "the batch was submitted, but recording the entries of line " .. i .. " failed: " .. describe(err)
      end
    end
  end
  if failure then -- some of the batch was made: which, so that submitting again makes no job twice
    return uuids, "store", ("the batch was submitted in part: %d of its %d jobs were made, not jobs %s"
      .. " (counted from 1; their uuids are empty): %s%s"):format(#jobs - #missing, #jobs, ranges(missing),
      failure, then_uuid and "; " .. drop_callback(then_uuid) or "")
  end
  if then_uuid then uuids[#jobs + 1] = then_uuid end
  return uuids
end

--- A batch's callback (flows): made and submitted parked, the batch's jobs registered as its
-- children (on_failure "ignore": it runs once every one has ended, and sees each end in
-- self:children()), and the submissions made its children (a UNIQUE key is not taken by them:
-- a job left out for a held key would leave the callback waiting). Returns its uuid, or nil,
-- kind, message.
function M._submit_callback(then_type, then_params, submissions)
  local params = {}
  if then_params and then_params:match("%S") then
    local why
    params, why = codec.decode_input(then_params)
    if params == nil then return nil, "invalid", "callback params " .. why end
  end
  local spec = registry.get(then_type)
  if not spec then return nil, "not_found", "unknown job type " .. codec.shown(then_type) end
  local made, r = under_limits(spec, function()
    local job, why, kind = registry.make_job(then_type, params)
    if not job then return { nil, kind, "callback: " .. why } end
    local qk, bad = job:_queue_kwargs {}
    if not qk then return { nil, "invalid", "callback: " .. bad } end
    job.queueKwargs = qk
    local submission = job:_submission(qk)
    submission.unique, submission.parked = nil, true
    submission.fields.flowRound = "1"
    return { job, submission }
  end)
  if not made then return nil, "job", "the callback could not be made: " .. describe(r) end
  if r[1] == nil then return nil, r[2], r[3] end
  local job, submission = r[1], r[2]
  local kids = {}
  for i, s in ipairs(submissions) do
    s.unique = nil
    s.fields.parentUuid = codec.encode(job.uuid)
    s.fields.parentQueue = codec.encode(job.queueName)
    kids[i] = { uuid = s.uuid, jobType = s.jobType, queue = s.queue }
  end
  submission.kids = flow.registrations(kids) -- (registered in the callback's own step)
  local ok, why = pcall(function()
    local created = core.submit { submission }
    job.queueJobId, job.cas = created[1][1], created[1][2]
  end)
  if not ok then
    local kind = tostring(why):find("zerog: StoreError: ", 1, true) and "store" or "invalid"
    return nil, kind, "the callback was not submitted: " .. store_words(why)
  end
  return job.uuid
end

--- The retention of a job's type (the default when the type is not loaded here).
local function retention_of(doc)
  local class = registry.get(doc.jobType)
  local retention = class and class.RETENTION or engine.DEFAULT_RETENTION
  return retention > 0 and ceil(retention) or 0
end

--- ZeroG's killJob: records error 410 "Killed by user" and result 410, and takes the job off its
-- queue, in one step. A host running it loses its lease and stops it.
function M.kill(uuid)
  if not codec.is_uuid(uuid) then return nil, "not_found", "no job " .. codec.shown(uuid) end
  local text = core.read(uuid)
  local doc = text and codec.decode(text)
  if type(doc) ~= "table" then return nil, "not_found", "no job " .. tostring(uuid) end
  local now = core.now() -- whether it has finished is the store's to say (a run may have
  -- recorded a result it has not settled yet: that run is still killed)
  local done, why = core.settle_outside(nil, uuid, 0, { -- the job's queue by its pointer
    action = "finish", retention = retention_of(doc), has_parent = type(doc.parentUuid) == "string",
    error = codec.encode { timeStamp = now, errorCode = 410, msg = "Killed by user" },
    fields = { resultCode = "410", completeness = "1", updatedAt = codec.encode(now) } })
  if not done then
    if why == "finished" then
      local code = codec.to_integer(doc.resultCode)
      return nil, "invalid", "job " .. uuid .. " has already finished"
        .. (code and code ~= Job.NO_RESULT and (" with " .. code) or "")
    end
    return nil, "not_found", "no job " .. uuid
  end
  M._kill_flow(uuid, doc) -- (flows)
  return 410
end

--- After a kill (flows): a killed child's end goes to its parent now, and a killed parent's
-- unfinished children are killed too (and theirs, and so on).
function M._kill_flow(uuid, doc)
  if type(doc.parentUuid) == "string" and type(doc.queueName) == "string" then
    pcall(core.flow_deliver, doc.queueName, 0) -- (else any host re-sends it within seconds)
  end
  local ok, text = pcall(core.children, nil, uuid)
  local kids = ok and text and codec.decode(text)
  if type(kids) ~= "table" then return end
  for _, pair in ipairs(kids) do
    if type(pair[1]) == "table" and type(pair[2]) ~= "table" and codec.is_uuid(pair[1].uuid) then
      M.kill(pair[1].uuid)
    end
  end
end
flow.kill = M.kill

--- Releases the run of a worker that died (graceful false: the next run records the kill) or
-- was stopped past its grace (graceful: an event, no error), so the job runs again.
function M.release(uuid, lease, delay, graceful)
  local now = core.now()
  local done, why = core.settle_outside(nil, uuid, lease, {
    action = "release", delay = delay, prior = graceful and 0 or 2,
    event = graceful and codec.encode { timeStamp = now, msg = engine.RELEASED_EVENT } or nil,
    fields = { updatedAt = codec.encode(now) } })
  if done then return true end
  if why == "stale" then return nil, "stale", "the lease of job " .. uuid .. " is no longer that one" end
  if why == "finished" then return nil, "invalid", "job " .. uuid .. " has already finished" end
  return nil, "not_found", "no job " .. uuid
end

--- Whether the store records the SHARDS the loaded types declare (or records them now, for an
-- empty queue): true, or nil, "invalid" and why (zg_run checks before its first claim).
function M.check_shards()
  local ok, why = pcall(registry.shard_counts)
  if ok then return true end
  if tostring(why):find("zerog: StoreError: ", 1, true) then error(why, 0) end
  return nil, "invalid", tostring(why)
end

--- The types this host claims, and their queues.
function M.claimable(...)
  local named = select("#", ...) > 0 and { ... } or nil
  local ok, kind, why = M.check_shards() -- (a SHARDS the store contradicts: no claim, why)
  if not ok then return nil, kind, why end
  return registry.claimable(named)
end

function M.reload(current) return registry.reload(current) end

function M.scripts_json()
  local s = registry.scripts()
  return codec.encode { loaded = codec.array(s.loaded), failed = codec.array(s.failed) }
end

function M.types_json()
  local types = registry.types_info()
  for _, t in ipairs(types) do t.fields = codec.array(t.fields) end
  return codec.encode(codec.array(types))
end

--- Makes `require(name)` return a table of wrappers around the C functions of `indexes`
-- (function name -> index for core.ccall); arguments and results cross as JSON.
function M.c_module(name, indexes)
  local module = {}
  for fname, index in pairs(indexes) do
    module[fname] = function(...)
      local args = codec.array(pack(...))
      args.n = nil
      local ok, text = pcall(core.ccall, index, codec.encode(args))
      if not ok then error(text, 2) end
      local result, why = codec.decode(text)
      if result == nil then error(name .. "." .. fname .. " returned invalid JSON: " .. why, 2) end
      return codec.integers(result)
    end
  end
  sandbox.register_c_module(name, module) -- each require in a job's environment gets a copy
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

--- A job whose type this host has not loaded (or cannot load) can still be read from its
-- stored document.
local function raw_job(doc)
  local class = {}
  class.__index = class
  setmetatable(class, sandbox.new_info(Job, { fields = {}, spec = class }).class_mt)
  local job = setmetatable({}, class)
  Job._apply_document(job, doc)
  job.dump = function() return doc end -- every stored field, SCHEMA ones included
  return job
end

local function read_view(view, uuid)
  if not codec.is_uuid(uuid) then return nil, "not_found", "no job " .. codec.shown(uuid) end
  local job, why, kind, doc = registry.load_job(uuid, under_limits, true) -- (a read writes nothing)
  if not job and doc and view ~= "data" then
    -- without its type, the document's text says which empty fields are arrays ([] not {})
    local text = core.read(uuid)
    local fresh = text and codec.decode(text)
    if type(fresh) == "table" then
      codec.mark_empty(text, fresh)
      doc = fresh
    end
    job = raw_job(doc)
  end
  if not job then return nil, kind == "not_found" and "not_found" or "job", why end
  local class = getmetatable(job) -- (the type's limits apply to its view and get_data())
  local ok, value = under_limits(class, VIEWS[view], job)
  if not ok then return nil, "job", view .. " of job " .. uuid .. " failed: " .. describe(value) end
  local encoded_ok, text = under_limits(class, codec.encode, value == nil and {} or value)
  if not encoded_ok then return nil, "job", view .. " of job " .. uuid .. ": " .. describe(text) end
  return text
end

--- A view of a job: nothing it runs writes to the store (the job's own instance and any other a
-- view's code loads with zerog.get_job are read-only, and no job is submitted).
function M.read(view, uuid)
  job_private.reading = job_private.reading + 1
  local r = table.pack(pcall(read_view, view, uuid))
  job_private.reading = job_private.reading - 1
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

function M.queues() return registry.queues() end

function M.queues_json() return codec.encode(codec.array(registry.queues())) end

-- ---- repeatable jobs (schedules; the host's side is host/schedule.c) ----

--- JSON text of a REPEAT's params with the members of every object in name order, so every
-- host writes the same text for the same params (the store compares it to keep the schedule).
local function canonical(v)
  if type(v) ~= "table" then return codec.encode(v) end
  local parts = {}
  if #v > 0 then
    for i = 1, #v do parts[i] = canonical(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local names = {}
  for k in pairs(v) do names[#names + 1] = tostring(k) end
  table.sort(names)
  for i, k in ipairs(names) do parts[i] = codec.encode(k) .. ":" .. canonical(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- The queue of a type's REPEAT schedule: for a sharded type whose jobs are pinned to a shard by
-- their keys (SHARD_BY, UNIQUE, GROUP), the shard of the REPEAT's params, where the ticks' jobs
-- meet the submitted ones of the same key; else the shard its id hashes to (registry).
local function repeat_queue(job_type, class, policy)
  local n = class.SHARDS or 1
  if n <= 1 then return class.QUEUE_NAME end
  local ok, r = under_limits(class, function()
    local job = registry.make_job(job_type, policy.params or {})
    return { job and shards.keyed_index(job, n) }
  end)
  local i = ok and r[1]
  if i then return class.QUEUE_NAME .. "~" .. i end
  return registry.repeat_queue(class)
end

--- The queues of the loaded types, the registry's generation and, when it is not `known`, every
-- loaded REPEAT {jobType, queue, rule, tz, params (JSON), catchUp} and the places where a loaded
-- type's schedule "type:<jobType>" must not be {jobType, queue} (the host removes it there: its
-- queue, or its shards but the REPEAT's, when it has none).
function M.schedule_scope(known)
  local _, queues = registry.claimable()
  if known == registry.generation then return queues, registry.generation end
  local repeats, plain = {}, {}
  for job_type, class in pairs(registry.types) do
    local policy = class.REPEAT ~= nil and registry.repeat_policy(class.REPEAT)
    local at = policy and repeat_queue(job_type, class, policy)
    if policy then
      repeats[#repeats + 1] = { jobType = job_type, queue = at, rule = policy.rule,
        tz = policy.tz, catchUp = policy.catch_up,
        params = policy.params and next(policy.params) ~= nil and canonical(policy.params) or nil }
    end
    -- removed wherever else it may be: a sharded type's REPEAT moves with its params' shard
    -- (and an older version placed it by the hash of its id), and must not tick twice
    local n = class.SHARDS or 1
    for i = 0, n - 1 do
      local q = n > 1 and class.QUEUE_NAME .. "~" .. i or class.QUEUE_NAME
      if q ~= at then plain[#plain + 1] = { jobType = job_type, queue = q } end
    end
  end
  return queues, registry.generation, repeats, plain
end

--- A schedule's job type (loaded here) and its params decoded (an empty text is {}); nil, the
-- kind and why when either is wrong (`missing`: what to say of a type not loaded here).
local function schedule_inputs(job_type, params_json, missing)
  local spec = registry.get(job_type)
  if not spec then return nil, "not_found", missing end
  if not params_json:match("%S") then return spec, {} end
  local params, why = codec.decode_input(params_json)
  if params == nil then return nil, "invalid", "params " .. why end
  return spec, params
end

--- Checks an ad hoc schedule's type and params (a job is made from them, not stored); returns
-- the queue its jobs go to (queue, or the type's QUEUE_NAME when "").
function M.schedule_check(job_type, params_json, queue)
  local spec, params, why = schedule_inputs(job_type, params_json,
                                             "unknown job type " .. codec.shown(job_type))
  if not spec then return nil, params, why end
  local n = spec.SHARDS or 1
  local ok, r = under_limits(spec, function()
    local job, why, kind = registry.make_job(job_type, params)
    if not job then return { nil, kind, why } end
    return { true, n > 1 and shards.keyed_index(job, n) or nil }
  end)
  if not ok then return nil, "job", "a job of type " .. job_type .. " could not be made: " .. describe(r) end
  if not r[1] then return nil, r[2], r[3] end
  if queue ~= "" and not queue:match("^[%w_%-%.:]+$") then
    return nil, "invalid", "a queue name is letters, digits and _-.:"
  end
  -- (sharded: the schedule and its jobs in one shard, the one the jobs' keys pick, else the one
  -- the params hash to; another queue than the type's has the shard count the store records)
  local keyed = r[2]
  if queue ~= "" and queue ~= spec.QUEUE_NAME then
    n, keyed = shards.count(queue), nil
  else
    -- the type's own queue: the store's shard count first (recorded by the first host, refused
    -- when it differs): a shard's keys depend on it, so a schedule put before any host recorded
    -- it, or by a host that disagrees, would sit where no worker looks
    local counted, why = pcall(shards.ensure, spec.QUEUE_NAME, n)
    if not counted then
      local kind = tostring(why):find("zerog: StoreError: ", 1, true) and "store" or "invalid"
      return nil, kind, "the schedule was not added: " .. store_words(why)
    end
  end
  queue = queue ~= "" and queue or spec.QUEUE_NAME
  if n > 1 then queue = queue .. "~" .. (keyed or shards.hash(params_json) % n) end
  return queue
end

--- Makes the job of tick `tick` (Unix ms) of schedule id, in the step of the store that moves
-- the schedule's next tick to `next` while it is still `tick`. Returns its uuid, or "stale"
-- when another host took the tick.
function M.fire_schedule(job_type, params_json, queue, id, tick, next_tick)
  local spec, params, why = schedule_inputs(job_type, params_json,
                                             "job type " .. tostring(job_type) .. " is not loaded here")
  if not spec then return nil, params, why end
  local ok, r = under_limits(spec, function()
    local job, why, kind = registry.make_job(job_type, params)
    if not job then return { nil, kind, why } end
    local qk, bad = job:_queue_kwargs {}
    if not qk then return { nil, "invalid", bad } end
    local sub = job:_submission(qk)
    sub.queue = queue
    if sub.fields.queueName then sub.fields.queueName = codec.encode(queue) end
    sub.fields.scheduledFor = string.format("%d", tick)
    sub.schedule = { id = id, tick = tick, next = next_tick }
    local created = core.submit({ sub })[1]
    if created[4] then return { "stale" } end
    if created[3] then return { created[3] } end -- (its UNIQUE key was held: no new job)
    job.queueJobId, job.cas = created[1], created[2]
    return { job.uuid }
  end)
  local why = not ok and "a job of type " .. job_type .. " could not be made: " .. describe(r)
    or not r[1] and r[3]
  if not why then return r[1] end
  -- a type's REPEAT whose params are not this host's: written by a host of another version of the
  -- script (a rolling deploy), whose SCHEMA they fit; the tick is left to such a host
  local policy = spec.REPEAT ~= nil and registry.repeat_policy(spec.REPEAT)
  local mine = policy and policy.params and next(policy.params) ~= nil and canonical(policy.params) or ""
  if id == "type:" .. job_type and mine ~= params_json then
    return nil, "stale", why .. " (the REPEAT of another version of the script)"
  end
  return nil, ok and r[2] or "job", why
end

return M
