--- zerog.job: BaseJob, the prototype of every job instance (ZeroG's zerog.jobs.base.BaseJob).
--
-- An instance is a table holding the document's fields; its metatable is the job type's class
-- (the table the script returned), whose metatable is BaseJob. Every method that changes the job
-- is one step in the store: save() is strict compare-and-swap; update_attrs() sets the fields it
-- is given (last writer wins) and, when someone else wrote in between, catches up with the fresh
-- document the store hands back; list entries (events, warnings, errors) are appended without
-- rewriting the document. During a run, the store refuses every write of a run whose lease is no
-- longer current (LeaseLost): the C side decides which job a write goes to, not the instance.
local core = require "zerog.core"
local codec = require "zerog.codec"
local schema = require "zerog.schema"
local errors = require "zerog.errors"
local sandbox = require "zerog.sandbox"
local info_of, set_class = sandbox.info_of, sandbox.set_class
local encode_entry = codec.encode_entry
local null = codec.null

-- the originals (see zerog.api), captured before any job code runs
local pcall, error, assert, tostring, pairs, ipairs, type = pcall, error, assert, tostring, pairs, ipairs, type
local setmetatable, getmetatable = setmetatable, debug.getmetatable
local insert, fmt, floor, max, min, huge = table.insert, string.format, math.floor, math.max, math.min, math.huge

local Job = {
  DOCUMENT_TYPE = "zerog_job",
  SCHEMA_VERSION = "1.0",
  MAX_ERRORS = 3,
  QUEUE_NAME = "zerog_jobs",
  RETRY_DELAY = 30,
  REQUEUE_DELAY = 10,
  TTR = 60,
  PRIORITY = 1024,
  NO_RESULT = -1,
  INTERNAL_ERROR = 500,
}
-- (no `Job.__index = Job`: a class reaches Job through its protected class_mt, and a job that
-- read `__index` through zerog.BaseJob's view or its class would get the shared table itself)

local function make_key(uuid) return "zerog_job_" .. tostring(uuid) end
Job.make_key = make_key

local function fields_of(self)
  return info_of(getmetatable(self)).fields
end

--- Which field names a job of this type persists, and each one's type.
local function field_type(self, name)
  local base = schema.BASE_BY_NAME[name]
  if base then return base.type, base.list end
  for _, f in ipairs(fields_of(self)) do
    if f.name == name then return f.type end
  end
end

-- The uuid each new instance was made with, out of the job's reach: enqueue() submits a job
-- under that uuid only, so a job cannot submit an impostor under another job's uuid.
local issued = setmetatable({}, { __mode = "k" })

--- Builds a new, unsaved instance of class from validated field values.
function Job.new(class, values)
  local spec = info_of(class).spec -- the type as loaded, not as this use of it changed it
  local now = core.now()
  local uuid = core.uuid4()
  local self = {
    documentType = Job.DOCUMENT_TYPE, jobType = spec.JOB_TYPE,
    schemaVersion = tostring(spec.SCHEMA_VERSION),
    createdAt = now, updatedAt = now, cas = 0, uuid = uuid,
    logId = spec.JOB_TYPE .. "_" .. uuid,
    queueName = spec.QUEUE_NAME, queueKwargs = {}, queueJobId = -1,
    events = codec.array(), warnings = codec.array(), errors = codec.array(),
    running = false, errorCount = 0, completeness = 0.0, tickcount = 0.0, tickval = 0.001,
    resultCode = Job.NO_RESULT,
  }
  for k, v in pairs(values) do self[k] = v end
  issued[self] = uuid
  return set_class(self, class)
end

--- name -> type of every field a document of the type of info has (the base fields, cas and its
-- SCHEMA's): what field_type() answers, made once per type.
local function field_types(info)
  local types = info.field_types
  if types then return types end
  types = {}
  for name, f in pairs(schema.BASE_BY_NAME) do types[name] = f.type end
  for _, f in ipairs(info.fields) do
    if types[f.name] == nil then types[f.name] = f.type end
  end
  info.field_types = types
  return types
end

local array = codec.array
local tointeger, MAX_SAFE_INTEGER = math.tointeger, codec.MAX_SAFE_INTEGER
local LISTS = { "events", "warnings", "errors" }

--- Sets the instance's fields from a decoded document, restoring integers and arrays
-- (schema.restore written out, with codec.to_integer: a run applies ~20 fields).
local function apply_document(self, doc)
  local types = field_types(info_of(getmetatable(self)))
  for name, v in pairs(doc) do
    local ftype = types[name]
    if ftype then
      if v == null then
        v = nil
      elseif ftype == "integer" then
        local i = type(v) == "number" and tointeger(v)
        if i and i <= MAX_SAFE_INTEGER and i >= -MAX_SAFE_INTEGER then v = i end
      elseif ftype == "array" and type(v) == "table" then
        v = array(v)
      end
      self[name] = v
    end
  end
  for i = 1, 3 do
    local list = LISTS[i]
    self[list] = array(self[list] or {})
  end
  -- a repeatable job's tick (Unix ms): set by the store's step that made it, read-only after
  local tick = doc.scheduledFor
  if type(tick) == "number" then self.scheduledFor = tointeger(tick) or tick end
end
Job._apply_document = apply_document

function Job:key() return make_key(self.uuid) end

--- The document as plain values: every base field, cas, the lists and the SCHEMA fields.
function Job:dump()
  local out = { cas = self.cas, scheduledFor = rawget(self, "scheduledFor") }
  for _, f in ipairs(schema.BASE) do out[f.name] = self[f.name] end
  for _, f in ipairs(fields_of(self)) do
    local v = self[f.name]
    if v == nil then v = codec.null end
    out[f.name] = v
  end
  return out
end

function Job:dumps() return codec.encode(self:dump()) end

--- Encodes the named fields of `values` for the store: a table name -> JSON text. A value that
-- cannot be stored exactly (codec.encode_field: NaN, +-inf, text that is not UTF-8, too deep, too
-- large) raises "<what>: field <name> <why>", naming the field, before anything is written.
-- (the values are read first, then encoded in place under one pcall: a pcall per field cost a
-- submit ~20 protected calls a job; `encoding_at` tells which field raised)
local encoding_at = { 0 }
local encode_field = codec.encode_field
local function encode_in_place(names, out)
  for i = 1, #names do
    encoding_at[1] = i
    local name = names[i]
    out[name] = encode_field(out[name])
  end
end

local function encode_fields(values, names, what)
  local out = {}
  for i = 1, #names do
    local name = names[i]
    local v = values[name]
    if v == nil then v = null end
    out[name] = v
  end
  local ok, why = pcall(encode_in_place, names, out)
  if not ok then
    error(what .. ": field " .. tostring(names[encoding_at[1]]) .. " cannot be stored: " .. tostring(why), 0)
  end
  return out
end

--- The names of the fields a document of this job's type stores in its hash (every base field
-- but the lists, then its SCHEMA's), made once per type; callers only read it.
local function scalar_names(self)
  local info = info_of(getmetatable(self))
  local names = info.scalar_names
  if names then return names end
  names = {}
  for _, f in ipairs(schema.BASE) do
    if not f.list then names[#names + 1] = f.name end
  end
  for _, f in ipairs(info.fields) do names[#names + 1] = f.name end
  info.scalar_names = names
  return names
end

-- Instances loaded for a read (a view: zerog info, dump, data, GET /info ...) are read-only: the
-- fields their code sets or saves stay on the instance, as on a job not yet submitted; the entries
-- it records are not kept (the view shows the stored lists); no follower is told. (An init() that
-- logged added an event and bumped cas at every view, and a running job's save() then failed.)
local read_only = setmetatable({}, { __mode = "k" })
-- The engine's handle on what job code must not reach (a job marking its own run's instance would
-- have the engine's writes on it dropped, its errors too): "zerog.job_private", which the registry
-- and the API require and a job script's require cannot name. reading > 0 while a view runs:
-- zerog.get_job() then loads read-only too, and enqueue() refuses.
local private = { reading = 0 }
function private.load_read_only(job) read_only[job] = true end
--- Whether a new job may hold entries recorded before it was stored (its init() logged), looked at
-- raw (no job code runs); a job that made a list something else is counted as holding some.
function private.has_pending(job)
  for i = 1, #LISTS do
    local pending = rawget(job, LISTS[i])
    if type(pending) ~= "table" or rawlen(pending) > 0 then return true end
  end
  return false
end
package.loaded["zerog.job_private"] = private
--- Whether this instance's writes stay on it (not submitted yet, or loaded for a read).
local function detached(self) return self.cas == 0 or read_only[self] == true end

local function notify(self, event)
  if read_only[self] then return end
  core.progress(self.uuid, self.completeness, event)
end

--- Every non-list field of the document encoded for the store (name -> JSON text).
function Job:_stored_fields()
  return encode_fields(self, scalar_names(self), "enqueue")
end

--- Whether `name` is the engine's to write on this instance: the fields of ENGINE_OWNED, and
-- resultCode on any instance but the one the running job was given (so no job can finish another
-- through zerog.get_job(), a forged uuid or BaseJob).
local function engine_owned(self, name)
  return schema.ENGINE_OWNED[name] or (name == "resultCode" and self ~= sandbox.run_instance)
end

--- What save() writes: every field but those only the engine and the store write.
function Job:_saved_fields()
  local names = {}
  for _, name in ipairs(scalar_names(self)) do
    if not engine_owned(self, name) then names[#names + 1] = name end
  end
  return encode_fields(self, names, "save")
end

--- Saves the whole document. Raises CasError when the stored cas is not this instance's.
-- A new job (never submitted) is stored with its queue entry by enqueue(): the store keeps no
-- document without one, so until then save() keeps it on the instance.
function Job:save()
  self.updatedAt = core.now()
  if detached(self) then return end
  local ok, fields = pcall(self._saved_fields, self)
  if not ok then error(fields, 2) end
  local cas, stored = core.save(self, fields, self.cas)
  if not cas then
    errors.raise(errors.CasError, fmt(
      "job %s changed in the store (cas %d, this copy has %d): reload it first",
      self.uuid, stored, self.cas))
  end
  self.cas = cas
end

--- Reloads the document from the store into this instance; raises when it is gone.
function Job:reload()
  local doc = assert(codec.decode(core.reload(self)))
  apply_document(self, doc)
end

--- After a write that found someone else's write in between: the document as it is now.
local function catch_up(self, fresh)
  if fresh then apply_document(self, assert(codec.decode(fresh))) end
end

--- Sets attrs and saves those fields; on a CAS collision reloads, re-applies and retries.
function Job:update_attrs(attrs)
  return self:_update_attrs(attrs, 3)
end

--- update_attrs at a given error level: one step in the store, never a collision.
function Job:_update_attrs(attrs, level)
  local names = {}
  for name, v in pairs(attrs) do
    local ftype, is_list = field_type(self, name)
    if not ftype or name == "cas" then
      error("update_attrs: " .. codec.shown(name) .. " is not a field of job type " .. self.JOB_TYPE, level)
    end
    if is_list then error("update_attrs: " .. name .. " is a list; use the record_ methods", level) end
    if self.cas ~= 0 and engine_owned(self, name) then
      error("update_attrs: " .. name .. " is the engine's to write", level)
    end
    local coerced, why = schema.coerce(ftype, v)
    if coerced == nil and v ~= codec.null then
      error("update_attrs: field " .. name .. " must be " .. why, level)
    end
    attrs[name] = coerced == nil and codec.null or coerced
    names[#names + 1] = name
  end
  -- every value is checked (encoded) before the instance or the store changes
  local ok, encoded = pcall(encode_fields, attrs, names, "update_attrs")
  if not ok then error(encoded, level) end
  for name, v in pairs(attrs) do self[name] = v end
  self.updatedAt = core.now()
  encoded.updatedAt = codec.encode(self.updatedAt)
  if detached(self) then return end -- not submitted yet (or read only): kept on the instance
  local cas, fresh = core.update(self, encoded, self.cas)
  self.cas = cas
  catch_up(self, fresh)
  if attrs.completeness or attrs.resultCode then notify(self) end
end

--- Appends an entry to a list of the stored document (atomic; O(1) whatever the list's length).
-- `text`: entry as JSON, when the caller has it already (codec.encode_entry).
function Job:_append(list, entry, count_field, text)
  if read_only[self] then return end -- a read records nothing on the job (a log line is written)
  if self.cas == 0 then -- not submitted yet: kept on the instance, stored by enqueue()
    insert(self[list], entry)
    if count_field then self[count_field] = self[count_field] + 1 end
    return
  end
  local stamp = core.now()
  local cas, fresh = core.append(self, list, text or codec.encode(entry), { updatedAt = codec.encode(stamp) },
                                 count_field, self.cas)
  self.cas = cas
  self.updatedAt = stamp
  if fresh then
    catch_up(self, fresh)
  else
    insert(self[list], entry)
    if count_field then self[count_field] = self[count_field] + 1 end
  end
end

-- Messages (events, warnings, errors, log lines) are never refused: codec.message makes them
-- valid UTF-8 (U+FFFD for other bytes) and cuts one over 64 KiB after a whole character.
function Job:record_event(msg)
  msg = codec.message(msg)
  local stamp = core.now()
  self:_append("events", { timeStamp = stamp, msg = msg }, nil, encode_entry(stamp, msg))
  notify(self, codec.log_text(msg))
end

function Job:record_warning(msg)
  msg = codec.message(msg)
  local stamp = core.now()
  self:_append("warnings", { timeStamp = stamp, msg = msg }, nil, encode_entry(stamp, msg))
end

--- Records an error and counts it in errorCount (a code that is not an integer within +-2^53
-- is recorded as 500). `exception` is for overrides to inspect.
function Job:record_error(errorCode, msg, exception)
  local _ = exception
  local code = codec.to_integer(errorCode) or Job.INTERNAL_ERROR
  local stamp = core.now()
  msg = codec.message(msg)
  self:_append("errors", { timeStamp = stamp, errorCode = code, msg = msg }, "errorCount",
               encode_entry(stamp, msg, code))
end

function Job:record_result(resultCode)
  local code = codec.to_integer(resultCode)
  if not code then
    error("record_result: the result code must be an integer between -2^53 and 2^53, got "
      .. schema.describe(resultCode), 2)
  end
  self:update_attrs { resultCode = code, completeness = 1.0 }
end

function Job:job_log_info(msg)
  core.log("info", self.logId, codec.log_text(msg))
  self:record_event(msg)
end

function Job:job_log_warning(msg)
  core.log("warning", self.logId, codec.log_text(msg))
  self:record_warning(msg)
end

function Job:job_log_error(errorCode, msg, exception)
  core.log("error", self.logId, codec.log_text(tostring(errorCode) .. " " .. tostring(msg)))
  self:record_error(errorCode, msg, exception)
end

function Job:raise_warning_continue(resultCode, msg)
  self:job_log_warning(msg)
  errors.raise(errors.WarningContinue, msg, codec.to_integer(resultCode))
end

function Job:raise_warning_finish(resultCode, msg)
  self:job_log_warning(msg)
  self:record_result(resultCode)
  errors.raise(errors.WarningFinish, msg, codec.to_integer(resultCode))
end

function Job:raise_error_continue(errorCode, msg)
  self:job_log_error(errorCode, msg)
  errors.raise(errors.ErrorContinue, msg, codec.to_integer(errorCode))
end

function Job:raise_error_finish(errorCode, msg)
  self:job_log_error(errorCode, msg)
  self:record_result(errorCode)
  errors.raise(errors.ErrorFinish, msg, codec.to_integer(errorCode))
end

--- Completeness is kept to 6 decimals (so adding 0.01 steps never shows float noise). NaN and
-- +-inf are refused (a finite number out of [0, 1] is clamped).
local function finite(v) return type(v) == "number" and v == v and v ~= huge and v ~= -huge end
local function clamp(c, what)
  if not finite(c) then error(what .. ": completeness must be a finite number, got " .. schema.describe(c), 3) end
  c = max(0.0, min(1.0, c + 0.0))
  return floor(c * 1e6 + 0.5) / 1e6
end

function Job:set_completeness(completeness)
  self:update_attrs { completeness = clamp(completeness, "set_completeness") }
end

--- Adds delta and the ticks not yet recorded to completeness (clamped), and clears the ticks.
function Job:add_to_completeness(delta)
  if delta ~= nil and not finite(delta) then
    error("add_to_completeness: delta must be a finite number, got " .. schema.describe(delta), 2)
  end
  local c = clamp(self.completeness + self.tickcount + (delta or 0), "add_to_completeness")
  self:update_attrs { completeness = c, tickcount = 0.0 }
end

function Job:set_tick_value(tickval)
  if not finite(tickval) then
    error("set_tick_value: tickval must be a finite number, got " .. schema.describe(tickval), 2)
  end
  self:update_attrs { tickval = tickval + 0.0 }
end

--- Counts a tick; the ticks reach completeness (and the store) once they add up to 0.01.
function Job:tick()
  self.tickcount = self.tickcount + self.tickval
  if self.tickcount >= 0.01 then self:add_to_completeness(0) end
end

--- What the store needs to create this job with its queue entry.
--- A type's UNIQUE checked: { key, ttl (seconds, 0: none), hold } or nil when it is not one.
-- key: a function of the params, a field name, or a list of field names; `while` (a Lua keyword:
-- written ["while"]) says how long a job holds its key: "queued" (the default), "running" or
-- "until_done".
local HOLDS = { queued = true, running = true, until_done = true }
function Job._unique_policy(u)
  if type(u) ~= "table" then return nil end
  local key, ttl, hold = rawget(u, "key"), rawget(u, "ttl") or 0, rawget(u, "while") or "queued"
  if type(key) == "string" then key = { key } end
  if type(key) == "table" then
    if #key == 0 then return nil end
    for _, name in ipairs(key) do if type(name) ~= "string" then return nil end end
  elseif type(key) ~= "function" then
    return nil
  end
  if type(ttl) ~= "number" or ttl < 0 or ttl ~= ttl or ttl > Job.MAX_DELAY then return nil end
  if not HOLDS[hold] then return nil end
  return { key = key, ttl = ttl, hold = hold }
end

--- A type's BACKOFF checked: { type, delay, max, jitter } or nil when it is not one.
local BACKOFF_TYPES = { exponential = true, fixed = true, linear = true }
function Job._backoff_policy(b)
  if type(b) ~= "table" then return nil end
  local kind, delay = rawget(b, "type") or "exponential", rawget(b, "delay")
  local max, jitter = rawget(b, "max"), rawget(b, "jitter") or 0
  local function seconds(v) return type(v) == "number" and v == v and v >= 0 and v <= Job.MAX_DELAY end
  if not BACKOFF_TYPES[kind] or not seconds(delay) or (max ~= nil and not seconds(max)) then return nil end
  if type(jitter) ~= "number" or not (jitter >= 0 and jitter <= 1) then return nil end
  return { type = kind, delay = delay, max = max, jitter = jitter }
end

-- [limits] RATE, CONCURRENCY and GROUP (README "Rate limits, concurrency and groups")
local SCOPES = { type = true, queue = true }
Job._max_limit = 100000 -- a RATE keeps the times of its last `limit` starts: bounded memory

--- A type's CONCURRENCY checked: { limit, scope } or nil when it is not one (n, or
-- { limit = n, scope = "type" | "queue" }).
function Job._concurrency_policy(c)
  if math.type(c) == "integer" then c = { limit = c } end
  if type(c) ~= "table" then return nil end
  local limit, scope = rawget(c, "limit"), rawget(c, "scope") or "type"
  if math.type(limit) ~= "integer" or limit < 1 or limit > Job._max_limit or not SCOPES[scope] then return nil end
  return { limit = limit, scope = scope }
end

--- A type's RATE checked: { limit, per (seconds), scope } or nil when it is not one.
function Job._rate_policy(r)
  if type(r) ~= "table" then return nil end
  local limit, per, scope = rawget(r, "limit"), rawget(r, "per") or 1, rawget(r, "scope") or "type"
  if math.type(limit) ~= "integer" or limit < 1 or limit > Job._max_limit or not SCOPES[scope] then return nil end
  if type(per) ~= "number" or not (per >= 0.001 and per <= Job.MAX_DELAY) then return nil end
  return { limit = limit, per = per, scope = scope }
end

--- What a claim tells the store of a type's limits: "concurrency,queue-wide,rate,per ms,
-- queue-wide,grouped" (integers), or nil when the type has none of RATE, CONCURRENCY, GROUP.
function Job._limits_spec(t)
  local c, r = Job._concurrency_policy(rawget(t, "CONCURRENCY")), Job._rate_policy(rawget(t, "RATE"))
  local grouped = type(rawget(t, "GROUP")) == "string"
  if not c and not r and not grouped then return nil end
  return string.format("%d,%d,%d,%d,%d,%d", c and c.limit or 0, c and c.scope == "queue" and 1 or 0,
    r and r.limit or 0, r and math.max(1, math.floor(r.per * 1000 + 0.5)) or 0,
    r and r.scope == "queue" and 1 or 0, grouped and 1 or 0)
end

Job._max_group = 256
--- The group of this job (its params field GROUP names; "" when it has none, the default
-- group), or nil when its type has no GROUP.
function Job:_group()
  local field = self.GROUP
  if type(field) ~= "string" then return nil end
  local v = self[field]
  if v == nil or v == codec.null then return "" end
  if type(v) ~= "string" then v = codec.encode(v) end
  if #v > Job._max_group then error("a GROUP value is at most " .. Job._max_group .. " bytes", 0) end
  return v
end
-- [/limits]

local MAX_UNIQUE_KEY = 512

--- The unique key of this job (its type's UNIQUE applied to its params), or nil when the type
-- has none. Raises when the key cannot be made (a key function failing or returning no string).
function Job:_unique_key()
  local policy = Job._unique_policy(self.UNIQUE)
  if not policy then return nil end
  local key
  if type(policy.key) == "function" then
    local params = {} -- the job's params: the values of its SCHEMA's fields
    for name in pairs(type(self.SCHEMA) == "table" and self.SCHEMA or {}) do params[name] = self[name] end
    key = policy.key(params)
    if type(key) == "number" then key = codec.encode(key) end
    if type(key) ~= "string" or key == "" then
      error("UNIQUE.key returned " .. type(key) .. ", not a non-empty string", 0)
    end
  else
    local parts = {}
    for i, name in ipairs(policy.key) do parts[i] = codec.encode(self[name] == nil and codec.null or self[name]) end
    key = table.concat(parts, "\n") -- (JSON text holds no raw line end)
  end
  if key:find("\0", 1, true) then error("a unique key may not hold a NUL byte", 0) end
  key = self.jobType .. "\n" .. key
  if #key > MAX_UNIQUE_KEY then error("a unique key is at most " .. MAX_UNIQUE_KEY .. " bytes", 0) end
  -- (a ttl under the store's millisecond is one, not 0: no limit)
  return { key = key, ttl = policy.ttl > 0 and math.max(policy.ttl, 0.001) or 0, hold = policy.hold }
end

function Job:_submission(qk)
  local queue = self.queueName -- (sharded queues: the shard it goes to, zerog.shards)
  if type(queue) == "string" and not queue:find("~", 1, true) then
    self.queueName = require("zerog.shards").pick(self, queue, self.SHARDS or 1)
  end
  return { uuid = self.uuid, jobType = self.jobType, queue = self.queueName,
           fields = self:_stored_fields(), priority = qk.priority, delay = qk.delay, ttr = qk.ttr,
           unique = self:_unique_key(), group = self:_group() }
end

--- Stores the entries recorded on a job before it was submitted.
function Job:_flush_pending()
  for _, list in ipairs { "events", "warnings", "errors" } do
    local pending = self[list]
    if #pending > 0 then
      self[list] = codec.array()
      for _, entry in ipairs(pending) do
        self:_append(list, entry) -- errorCount was stored with the document
      end
    end
  end
end

--- Puts a new job on its queue: the document and its queue entry are created together. Sets
-- queueJobId (-1 when enqueueing fails); returns the id, or nil and the reason. A job is
-- queued once: a stored job is run again by the engine (requeue), not by enqueue(). A job of a
-- UNIQUE type whose key another job holds is not created: nil, "exists", that job's uuid.
-- kwargs: delay (seconds), ttr (seconds), priority (lower runs sooner).
function Job:enqueue(kwargs)
  if private.reading > 0 then return nil, "a read submits no job (enqueue() in a view)" end
  local qk, why = self:_queue_kwargs(kwargs)
  if not qk then return nil, why end
  if self.cas ~= 0 or issued[self] == nil then
    return nil, "job " .. tostring(self.uuid) .. " is queued already (a job is enqueued once)"
  end
  if self.uuid ~= issued[self] then
    return nil, "a job is enqueued under the uuid it was made with, not " .. tostring(self.uuid)
  end
  local before = self.queueKwargs
  self.queueKwargs = qk
  local built, submission = pcall(self._submission, self, qk)
  if not built then
    self.queueKwargs = before
    return nil, tostring(submission)
  end
  local ok, created = pcall(core.submit, { submission })
  if not ok then
    self.queueJobId = -1
    return nil, tostring(created)
  end
  if created[1][3] then -- not created: the job that holds its unique key
    self.queueJobId = -1
    return nil, "exists", created[1][3]
  end
  self.queueJobId, self.cas = created[1][1], created[1][2]
  self:_flush_pending()
  return self.queueJobId
end

--- The queue arguments with the type's defaults filled in, checked; nil and why when bad.
-- A TTR is at least MIN_TTR (a shorter lease lapses before its renewal can come) and, like a
-- delay, at most MAX_DELAY; a priority is a whole number from 0 to MAX_PRIORITY (beanstalkd's).
-- The command and HTTP check by the same rules (host/cli/options.c).
Job.MIN_TTR = 0.1
Job.MAX_DELAY = 366 * 24 * 3600
local MAX_PRIORITY = 4294967295
function Job:_queue_kwargs(kwargs)
  kwargs = kwargs or {}
  local qk = { delay = kwargs.delay or 0, ttr = kwargs.ttr or self.TTR,
               priority = kwargs.priority or self.PRIORITY }
  if not finite(qk.delay) or qk.delay < 0 or qk.delay > Job.MAX_DELAY then
    return nil, "delay must be a number of seconds from 0 to " .. Job.MAX_DELAY .. ", got "
      .. schema.describe(qk.delay)
  end
  if not finite(qk.ttr) or qk.ttr < Job.MIN_TTR or qk.ttr > Job.MAX_DELAY then
    return nil, "ttr must be a number of seconds from " .. Job.MIN_TTR .. " to " .. Job.MAX_DELAY
      .. ", got " .. schema.describe(qk.ttr)
  end
  local priority = codec.to_integer(qk.priority)
  if not priority or priority < 0 or priority > MAX_PRIORITY then
    return nil, "priority must be a whole number from 0 to " .. MAX_PRIORITY .. ", got "
      .. schema.describe(qk.priority)
  end
  qk.priority = priority
  return qk
end

function Job:progress()
  return { completeness = self.completeness, result = self.resultCode }
end

function Job:info()
  return { completeness = self.completeness, result = self.resultCode,
           events = self.events, errors = self.errors, warnings = self.warnings }
end

function Job:get_data() return {} end

--- -1 (NO_RESULT) to requeue after an error, INTERNAL_ERROR (500) once MAX_ERRORS is reached.
function Job:continue_running()
  if self.errorCount >= self.MAX_ERRORS then return Job.INTERNAL_ERROR end
  return Job.NO_RESULT
end

--- Renews the job's queue reservation now; true when this job is the one the host is running.
-- The host's heartbeat renews it on its own as well, so calling this is never required.
function Job:keep_alive()
  return core.touch(self)
end

return Job
