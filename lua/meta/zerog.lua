---@meta zerog
-- LuaLS annotations of the ZeroG job API, for completion and type hints in editors.
-- Not run by the host. Point the language server at it (.luarc.json):
--   { "workspace.library": ["/usr/local/share/zerog/lua"] }
-- and annotate a job type's table with `---@class MyJob: zerog.BaseJob`.

---A job's event or warning.
---@class zerog.Entry
---@field timeStamp string ISO-8601 UTC time it was recorded
---@field msg string

---A job's error.
---@class zerog.ErrorEntry: zerog.Entry
---@field errorCode integer

---What the host raises: `err.kind` is one of the zerog.* kind names.
---@class zerog.Error
---@field kind "ErrorContinue"|"ErrorFinish"|"WarningContinue"|"WarningFinish"|"CasError"|"LeaseLost"
---@field msg string
---@field code integer?

---A SCHEMA field definition.
---@class zerog.Field
---@field type? "string"|"integer"|"number"|"boolean"|"object"|"array"|"any"
---@field required? boolean
---@field default? any

---Queue arguments of enqueue().
---@class zerog.QueueKwargs
---@field delay? number seconds before the job is ready (default 0)
---@field ttr? number seconds a run may hold its reservation unrenewed (default TTR)
---@field priority? integer lower runs sooner (default PRIORITY)

---@class zerog.Progress
---@field completeness number
---@field result integer

---@class zerog.Info: zerog.Progress
---@field events zerog.Entry[]
---@field warnings zerog.Entry[]
---@field errors zerog.ErrorEntry[]

---The prototype of every job (ZeroG's BaseJob). A job type's script returns a table that the host
---makes a class of it: set JOB_TYPE and run, and optionally the settings and methods below.
---@class zerog.Backoff
---@field type? "exponential"|"linear"|"fixed" default "exponential"
---@field delay number seconds (the first delay)
---@field max? number seconds, the longest delay
---@field jitter? number 0..1: each delay cut by up to this share, at random

---@class zerog.Unique
---@field key string|string[]|fun(params: table): string a field, fields, or a function of the params
---@field ttl? number seconds the key holds at most (default 0: no limit)
---@field while? "queued"|"running"|"until_done" how long a job holds its key (write ["while"])

---A repeatable job type: a job at every tick (README: Repeatable jobs). One of cron and every.
---@class zerog.Repeat
---@field cron? string a 5-field cron rule ("*/5 * * * *") or @yearly @monthly @weekly @daily @hourly ...
---@field every? number seconds between ticks (>= 1), ticks on multiples of it since the Unix epoch
---@field tz? string the time zone of a cron rule (default "UTC"), e.g. "Europe/Paris"
---@field params? table the params of the jobs it makes (checked against SCHEMA at load)
---@field catch_up? "once"|"skip" ticks missed while no host ran: one job (default), or none

---@class zerog.Rate
---@field limit integer starts at most, in any window of `per` seconds (1 .. 100000)
---@field per? number the window, seconds (default 1)
---@field scope? "type"|"queue" the type's own (default), or shared by the queue's types that say "queue"

---@class zerog.Concurrency
---@field limit integer runs at once at most (1 .. 100000)
---@field scope? "type"|"queue" the type's own (default), or shared by the queue's types that say "queue"

---@class zerog.BaseJob
---@field JOB_TYPE string a unique name (required)
---@field SCHEMA? table<string, zerog.Field> extra persisted fields, validated on submit
---@field SCHEMA_VERSION string default "1.0"
---@field MAX_ERRORS integer errors before continue_running() gives up (default 3)
---@field QUEUE_NAME string default "zerog_jobs"
---@field RETRY_DELAY number seconds before a run after an error (default 30)
---@field REQUEUE_DELAY number seconds before a run after `return -1` (default 10)
---@field TTR number seconds a run's lease lasts unrenewed (default 60; from MIN_TTR to MAX_DELAY)
---@field MIN_TTR number 0.1: the shortest TTR (a shorter lease would lapse before its renewal)
---@field MAX_DELAY number one year, in seconds: the longest delay or TTR
---@field PRIORITY integer lower runs sooner (default 1024)
---@field RETENTION? number seconds a finished job is kept (default 7 days; 0 = forever)
---@field UNIQUE? zerog.Unique at most one job per key (README: Unique jobs)
---@field REPEAT? zerog.Repeat a job at every tick of a cron rule or period (README: Repeatable jobs)
---@field RATE? zerog.Rate at most `limit` starts per `per` seconds across all hosts (per group with GROUP)
---@field CONCURRENCY? integer|zerog.Concurrency at most this many running at once across all hosts (per group with GROUP)
---@field GROUP? string a SCHEMA field: its value is the job's group; groups take turns and have the limits each
---@field BACKOFF? zerog.Backoff the delays between retries after errors (README: Retry with backoff)
---@field backoff? fun(self: zerog.BaseJob, attempt: integer): number seconds before the next try
---@field NO_RESULT integer -1
---@field INTERNAL_ERROR integer 500
---@field documentType string "zerog_job"
---@field jobType string
---@field schemaVersion string
---@field createdAt string ISO-8601 UTC
---@field updatedAt string ISO-8601 UTC
---@field cas integer 0 until saved
---@field uuid string
---@field logId string JOB_TYPE .. "_" .. uuid
---@field queueName string
---@field queueKwargs zerog.QueueKwargs
---@field queueJobId integer -1 after a failed enqueue
---@field events zerog.Entry[]
---@field warnings zerog.Entry[]
---@field errors zerog.ErrorEntry[]
---@field running boolean
---@field errorCount integer
---@field completeness number 0..1
---@field tickcount number
---@field tickval number default 0.001
---@field resultCode integer -1 until finished
---@field scheduledFor? integer a repeatable job's tick (Unix ms); nil for a job submitted otherwise
---@field flowRound integer flows: 0 in the first run, then how many times the job was parked
---@field parentUuid? string flows: the job that spawned this one (or whose batch it is in)
local BaseJob = {}

---@class zerog.SpawnOptions
---@field queue? string default: the child type's QUEUE_NAME (parent and child may differ)
---@field priority? integer default: the child type's PRIORITY
---@field delay? number seconds before the child is ready
---@field ttr? number default: the child type's TTR
---@field on_failure? "fail_parent"|"ignore" default "fail_parent": its failure ends the parent (424)

---@class zerog.Child
---@field uuid string
---@field jobType string
---@field queue string
---@field onFailure "fail_parent"|"ignore"
---@field round integer the parent's flowRound when it was spawned
---@field finished boolean
---@field resultCode? integer once finished
---@field failed? boolean once finished: any result but 2xx (a kill included)
---@field result? any the child's `result` field, if it has one
---@field lastError? zerog.ErrorEntry

---Flows: submits a child job (made once: a rerun spawns the same uuid again) and returns its
---uuid. Return zerog.WAIT_CHILDREN to wait for the children (README: Flows).
---@param jobType string
---@param params? table
---@param options? zerog.SpawnOptions
---@return string uuid
function BaseJob:spawn(jobType, params, options) end

---Flows: every child this job spawned, in spawn order, with its end once it has ended.
---@return zerog.Child[]
function BaseJob:children() end

---Flows: kills one of this job's unfinished children (an error for a job that is not its child).
---@param uuid string
---@return boolean killed
---@return string|nil why "finished" when it had ended
function BaseJob:cancel(uuid) end

---Flows: kills every unfinished child of this job.
---@return integer killed
function BaseJob:cancel_children() end

---Runs the job (required). Return a result code (200s for success), -1 (NO_RESULT) and an
---optional delay in seconds to be run again, or raise with the raise_* methods.
---@return integer|nil code
---@return number|nil delay
function BaseJob:run() end

---Optional: runs after the fields are loaded (ZeroG's __init__).
function BaseJob:init() end

---Optional: upgrades a stored document whose schemaVersion differs from SCHEMA_VERSION.
---@param doc table
---@param fromVersion string
function BaseJob:migrate(doc, fromVersion) end

---The document as plain values.
---@return table
function BaseJob:dump() end

---The document as JSON text.
---@return string
function BaseJob:dumps() end

---The store key, "zerog_job_" .. uuid.
---@return string
function BaseJob:key() end

---Saves the whole document; raises a CasError when the stored cas differs.
function BaseJob:save() end

---Reloads the document from the store.
function BaseJob:reload() end

---Sets and saves these fields; on a CAS collision reloads, re-applies and retries (up to 10 times).
---@param attrs table<string, any>
function BaseJob:update_attrs(attrs) end

---@param msg string
function BaseJob:record_event(msg) end

---@param msg string
function BaseJob:record_warning(msg) end

---Records an error and increments errorCount.
---@param errorCode integer
---@param msg string
---@param exception? any
function BaseJob:record_error(errorCode, msg, exception) end

---Sets resultCode and completeness 1.
---@param resultCode integer
function BaseJob:record_result(resultCode) end

---Records an event and writes a log line with the job's logId.
---@param msg string
function BaseJob:job_log_info(msg) end

---@param msg string
function BaseJob:job_log_warning(msg) end

---@param errorCode integer
---@param msg string
---@param exception? any
function BaseJob:job_log_error(errorCode, msg, exception) end

---Records a warning and interrupts the run; the job may run again after RETRY_DELAY.
---@param resultCode integer
---@param msg string
function BaseJob:raise_warning_continue(resultCode, msg) end

---Records a warning and the result, and ends the job.
---@param resultCode integer
---@param msg string
function BaseJob:raise_warning_finish(resultCode, msg) end

---Records an error and interrupts the run; continue_running() decides whether it runs again.
---@param errorCode integer
---@param msg string
function BaseJob:raise_error_continue(errorCode, msg) end

---Records an error and the result, and ends the job.
---@param errorCode integer
---@param msg string
function BaseJob:raise_error_finish(errorCode, msg) end

---Sets completeness, clamped to [0, 1].
---@param completeness number
function BaseJob:set_completeness(completeness) end

---Adds delta and the unrecorded ticks to completeness, clamped.
---@param delta number
function BaseJob:add_to_completeness(delta) end

---@param tickval number
function BaseJob:set_tick_value(tickval) end

---Adds tickval to tickcount; completeness moves once the ticks add up to 0.01.
function BaseJob:tick() end

---Puts the job on its queue; sets queueJobId (-1 on failure) and queueKwargs.
---@param kwargs? zerog.QueueKwargs
---@return integer|nil id
---@return string|nil why
function BaseJob:enqueue(kwargs) end

---@return zerog.Progress
function BaseJob:progress() end

---@return zerog.Info
function BaseJob:info() end

---The job's output (override it).
---@return table
function BaseJob:get_data() end

---The retry policy: -1 to run again, or the result code to finish with (default: 500 once
---errorCount >= MAX_ERRORS).
---@return integer
function BaseJob:continue_running() end

---Renews the job's queue reservation now (the host's heartbeat does it anyway).
---@return boolean renewed
function BaseJob:keep_alive() end

---The module job scripts require: `local zerog = require "zerog"`.
---@class zerog
---@field NO_RESULT integer -1
---@field INTERNAL_ERROR integer 500
---@field ErrorContinue string
---@field ErrorFinish string
---@field WarningContinue string
---@field WarningFinish string
---@field CasError string
---@field LeaseLost string the kind of the error a run gets when its lease is no longer current (it stops the run)
---@field json table lua-cjson
---@field BaseJob zerog.BaseJob
---@field log zerog.Log
---@field WAIT_CHILDREN table flows: `return zerog.WAIT_CHILDREN` parks the job until its children end
local zerog = {}

---@class zerog.Log
---@field info fun(...: any)
---@field warning fun(...: any)
---@field error fun(...: any)

---The store key of a job.
---@param uuid string
---@return string
function zerog.make_key(uuid) end

---The stored job as a separate instance, or nil.
---@param uuid string
---@return zerog.BaseJob|nil
function zerog.get_job(uuid) end

---A new, unsaved job of a loaded type; raises on bad params. `j:save(); j:enqueue()` runs it.
---@param jobType string
---@param params table
---@return zerog.BaseJob
function zerog.make_job(jobType, params) end

---Sleeps while the host keeps the job's reservation.
---@param seconds number
function zerog.sleep(seconds) end

return zerog
