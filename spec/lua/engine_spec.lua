-- The engine (ZeroG's base worker): how a run's return value or error is settled, retries,
-- killed jobs, unloadable messages, and the guarantee that a job's fault never breaks the host.
local H = require "helper"

--- A job type whose run returns what `ret` (Lua source) evaluates to.
local function returning(name, ret, extra)
  return ([[return { JOB_TYPE = "%s", %s run = function(self) return %s end }]])
    :format(name, extra or "", ret)
end

for _, store in ipairs(H.stores) do
  describe("engine on " .. store, function()
    local h
    before_each(function()
      H.reset(store)
      h = H.host(store)
    end)
    after_each(function() h:close() end)

    describe("return values", function()
      local cases = {
        { "a code", "201", 201 },
        { "nothing", "nil", 200 },
        { "a numeric string", '"202"', 202 },
        { "a non-numeric string", '"abc"', 200 },
        { "a table that is not a list", "{ a = 1 }", 200 },
        { "a list {code}", "{ 203 }", 203 },
        { "a boolean", "true", 200 },
        { "a 4xx code", "404", 404 },
      }
      for i, c in ipairs(cases) do
        it("records the result of " .. c[1] .. " as " .. c[3], function()
          local uuid, d, steps = H.run_job(h, returning("ret" .. i, c[2]))
          assert.are.equal(c[3], d.resultCode)
          assert.are.equal(1, d.completeness)
          assert.is_false(d.running)
          assert.are.equal("finished", steps[#steps].outcome)
          assert.are.equal(c[3], steps[#steps].result)
          assert.are.equal(uuid, steps[#steps].uuid)
        end)
      end

      it("takes a finished job off its queue", function()
        local uuid, d = H.run_job(h, returning("del", "200"))
        assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 0 }, h:counts(d.queueName))
        assert.are.equal("finished", h:stats(uuid).state)
      end)

      local requeues = {
        { "-1, 5", 5 }, { "{ -1, 7 }", 7 }, { "-1", 10 }, { '"-1"', 10 },
      }
      for i, c in ipairs(requeues) do
        it("requeues `return " .. c[1] .. "` with a delay of " .. c[2] .. "s", function()
          local t = H.define(h, returning("req" .. i, c[1]))
          local uuid = H.submit(h, t)
          local r = assert(h:step(0))
          assert.are.equal("requeued", r.outcome)
          assert.are.equal(c[2], r.delay)
          local d = H.doc(h, uuid)
          assert.are.equal(-1, d.resultCode)
          assert.is_false(d.running)
          local st = h:stats(uuid)
          assert.are.equal("delayed", st.state)
          assert.are.equal(1, st.releases)
          assert.is_true(st.time_left_ms > (c[2] - 1) * 1000 and st.time_left_ms <= c[2] * 1000)
        end)
      end

      it("uses the type's REQUEUE_DELAY for a bare -1", function()
        local t = H.define(h, returning("req_custom", "-1", "REQUEUE_DELAY = 3,"))
        H.submit(h, t)
        assert.are.equal(3, h:step(0).delay)
      end)

      it("runs a requeued job again until it returns a result", function()
        local _, d, steps = H.run_job(h, [[return { JOB_TYPE = "again", SCHEMA = { runs = { type = "integer", default = 0 } },
          run = function(self)
            self:update_attrs { runs = self.runs + 1 }
            if self.runs < 3 then return -1, 1 end
            return 200
          end }]])
        assert.are.equal(3, d.runs)
        assert.are.equal(200, d.resultCode)
        assert.are.same({ "requeued", "requeued", "finished" },
          { steps[1].outcome, steps[2].outcome, steps[3].outcome })
      end)

      it("is not ready again before the requeue delay", function()
        local t = H.define(h, returning("not_before", "-1, 30"))
        H.submit(h, t)
        h:step(0)
        local r, kind = h:step(0)
        assert.is_nil(r)
        assert.are.equal("timeout", kind)
      end)

      it("waits out a short requeue delay when asked to block", function()
        local t = H.define(h, [[return { JOB_TYPE = "short_delay", SCHEMA = { runs = { type = "integer", default = 0 } },
          run = function(self) self:update_attrs { runs = self.runs + 1 }; if self.runs == 1 then return -1, 0.2 end end }]])
        local uuid = H.submit(h, t)
        assert.are.equal("requeued", h:step(0).outcome)
        local r = assert(h:step(2000))
        assert.are.equal("finished", r.outcome)
        assert.are.equal(uuid, r.uuid)
      end)
    end)

    describe("ErrorFinish and WarningFinish", function()
      it("raise_error_finish records the error, the result and 'Error - finished'", function()
        local _, d, steps = H.run_job(h, [[return { JOB_TYPE = "err_fin", run = function(self)
            self:raise_error_finish(422, "bad input")
            error("not reached")
          end }]])
        assert.are.equal(422, d.resultCode)
        assert.are.equal(1, d.errorCount)
        assert.are.equal("bad input", d.errors[1].msg)
        assert.are.equal(422, d.errors[1].errorCode)
        assert.are.same({ "Error - finished" }, H.event_msgs(d))
        assert.are.equal(1, #steps)
        assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 0 }, h:counts(d.queueName))
      end)

      it("raise_warning_finish records a warning and the result", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "warn_fin", run = function(self)
            self:raise_warning_finish(299, "partly done")
          end }]])
        assert.are.equal(299, d.resultCode)
        assert.are.equal("partly done", d.warnings[1].msg)
        assert.are.equal(0, d.errorCount)
        assert.is_true(H.contains(H.event_msgs(d), "Error - finished"))
      end)
    end)

    describe("ErrorContinue and WarningContinue", function()
      it("raise_error_continue requeues after RETRY_DELAY with 'Error - restarting'", function()
        local t = H.define(h, [[return { JOB_TYPE = "err_cont", RETRY_DELAY = 12, run = function(self)
            self:raise_error_continue(512, "try later")
          end }]])
        local uuid = H.submit(h, t)
        local r = h:step(0)
        assert.are.equal("requeued", r.outcome)
        assert.are.equal(12, r.delay)
        local d = H.doc(h, uuid)
        assert.are.equal(1, d.errorCount)
        assert.are.equal(512, d.errors[1].errorCode)
        assert.are.same({ "Error - restarting" }, H.event_msgs(d))
        assert.are.equal(-1, d.resultCode)
        assert.is_false(d.running)
      end)

      it("waits by the type's BACKOFF, doubling to its max, and records each delay in 'Error - restarting'", function()
        local t = H.define(h, [[return { JOB_TYPE = "backoff_exp", MAX_ERRORS = 5,
          BACKOFF = { type = "exponential", delay = 2, max = 5 },
          run = function(self) self:raise_error_continue(512, "again") end }]])
        local uuid = H.submit(h, t)
        local delays = {}
        for i = 1, 4 do
          local r = h:step(0)
          delays[i] = r.delay
          if i < 4 then h:kick(H.doc(h, uuid).queueName) end -- the next try at once
        end
        assert.are.same({ 2, 4, 5, 5 }, delays)
        local d = H.doc(h, uuid)
        local recorded = {}
        for _, e in ipairs(d.events) do recorded[#recorded + 1] = e.delay end
        assert.are.same({ 2, 4, 5, 5 }, recorded)
      end)

      it("linear and fixed BACKOFF, and jitter keeps each delay within its share below the delay", function()
        local t = H.define(h, [[return { JOB_TYPE = "backoff_lin", MAX_ERRORS = 9,
          BACKOFF = { type = "linear", delay = 3, jitter = 0.5 },
          run = function(self) self:raise_error_continue(512, "again") end }]])
        local uuid = H.submit(h, t)
        for i = 1, 3 do
          local r = h:step(0)
          assert.is_true(r.delay <= 3 * i and r.delay >= 1.5 * i, "try " .. i .. ": " .. r.delay)
          h:kick(H.doc(h, uuid).queueName)
        end
        local f = H.define(h, [[return { JOB_TYPE = "backoff_fix", QUEUE_NAME = "fixed_q",
          BACKOFF = { type = "fixed", delay = 7 },
          run = function(self) self:raise_error_continue(512, "again") end }]])
        H.submit(h, f)
        assert.are.equal(7, h:step(0, { "fixed_q" }).delay)
      end)

      it("a backoff(self, attempt) method decides the delay; one that fails falls back on RETRY_DELAY", function()
        local t = H.define(h, [[return { JOB_TYPE = "backoff_fn", RETRY_DELAY = 11,
          backoff = function(self, attempt) return attempt * 100 + 1 end,
          run = function(self) self:raise_error_continue(512, "again") end }]])
        H.submit(h, t)
        assert.are.equal(101, h:step(0).delay)
        local bad = H.define(h, [[return { JOB_TYPE = "backoff_bad", RETRY_DELAY = 11,
          backoff = function(self, attempt) error("no idea") end,
          run = function(self) self:raise_error_continue(512, "again") end }]])
        H.submit(h, bad)
        assert.are.equal(11, h:step(0).delay)
      end)

      it("an exponential BACKOFF stays a finite delay past 2^1024 (the 1025th error; delay 0: 0, never NaN)", function()
        local t = H.define(h, [[return { JOB_TYPE = "backoff_zero", MAX_ERRORS = 2000,
          BACKOFF = { type = "exponential", delay = 0 },
          run = function(self) self:raise_error_continue(512, "again") end }]])
        local uuid = H.submit(h, t)
        local r
        for _ = 1, 1025 do r = h:step(0) end -- (a delay of 0: due again at once)
        local d = H.doc(h, uuid)
        assert.are.equal(1025, d.errorCount)
        assert.are.equal("requeued", r.outcome) -- (it was finished with 500: NaN cannot be stored)
        assert.are.equal(0, r.delay)
        assert.are.equal(0, d.events[#d.events].delay)
      end)

      it("BACKOFF counts errors, not warnings: retries after raise_warning_continue keep the first delay", function()
        local t = H.define(h, [[return { JOB_TYPE = "backoff_warn",
          BACKOFF = { type = "exponential", delay = 2 },
          run = function(self) self:raise_warning_continue(299, "again") end }]])
        local uuid = H.submit(h, t)
        local delays = {}
        for i = 1, 3 do
          delays[i] = h:step(0).delay
          h:kick(H.doc(h, uuid).queueName)
        end
        assert.are.same({ 2, 2, 2 }, delays)
        assert.are.equal(0, H.doc(h, uuid).errorCount)
      end)

      it("a backoff() that overruns TIMEOUT ends the job with 500 (a limit ends the settling, no fallback)", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "backoff_loops", TIMEOUT = 0.05, RETRY_DELAY = 0,
          backoff = function(self, attempt) while true do end end,
          run = function(self) self:raise_error_continue(512, "again") end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("TIMEOUT", d.errors[#d.errors].msg)
      end)

      it("refuses a bad BACKOFF when the script loads", function()
        for _, b in ipairs { '"fast"', '{ type = "random", delay = 1 }', '{ delay = -1 }',
                             '{ delay = 1, jitter = 2 }', '{ delay = 1, max = "x" }' } do
          assert.has_error(function()
            H.define(h, ([[return { JOB_TYPE = "backoff_refused", BACKOFF = %s, run = function() end }]]):format(b))
          end)
        end
      end)

      it("finishes with 500 and 'Error - finished' once MAX_ERRORS is reached", function()
        local _, d, steps = H.run_job(h, [[return { JOB_TYPE = "err_max", MAX_ERRORS = 3, run = function(self)
            self:raise_error_continue(512, "again")
          end }]])
        assert.are.equal(3, #steps)
        assert.are.equal(500, d.resultCode)
        assert.are.equal(3, d.errorCount)
        assert.are.same({ "Error - restarting", "Error - restarting", "Error - finished" }, H.event_msgs(d))
      end)

      it("raise_warning_continue records a warning and requeues", function()
        local t = H.define(h, [[return { JOB_TYPE = "warn_cont", run = function(self)
            self:raise_warning_continue(300, "not yet")
          end }]])
        local uuid = H.submit(h, t)
        local r = h:step(0)
        assert.are.equal("requeued", r.outcome)
        assert.are.equal(30, r.delay)
        local d = H.doc(h, uuid)
        assert.are.equal("not yet", d.warnings[1].msg)
        assert.are.equal(0, d.errorCount)
        assert.are.same({ "Error - restarting" }, H.event_msgs(d))
      end)

      it("finishes with what an overridden continue_running() returns", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "cont_override",
          continue_running = function(self) return 503 end,
          run = function(self) self:raise_error_continue(512, "x") end }]])
        assert.are.equal(503, d.resultCode)
        assert.is_true(H.contains(H.event_msgs(d), "Error - finished"))
      end)
    end)

    describe("other Lua errors", function()
      it("records error 500 with the message and a stack traceback, then retries", function()
        local t = H.define(h, [[return { JOB_TYPE = "boom", run = function(self)
            local x = nil
            return x.field
          end }]], "boom_job.lua")
        local uuid = H.submit(h, t)
        local r = h:step(0)
        assert.are.equal("requeued", r.outcome)
        assert.are.equal(30, r.delay)
        local d = H.doc(h, uuid)
        assert.are.equal(500, d.errors[1].errorCode)
        assert.matches("boom_job.lua:3: attempt to index a nil value", d.errors[1].msg)
        assert.matches("stack traceback", d.errors[1].msg)
        assert.are.same({ "Error - restarting" }, H.event_msgs(d))
      end)

      it("finishes with 500 after MAX_ERRORS such errors", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "boom_max", MAX_ERRORS = 2, run = function() error("kaput") end }]])
        assert.are.equal(500, d.resultCode)
        assert.are.equal(2, d.errorCount)
        assert.are.same({ "Error - restarting", "Error - finished" }, H.event_msgs(d))
      end)

      it("handles an error value that is not a string", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "boom_table", MAX_ERRORS = 1, run = function() error({ code = 1 }) end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("table", d.errors[1].msg)
      end)

      it("survives a stack overflow in the job", function()
        local _, d = H.run_job(h, [[local function f(n) return f(n + 1) + 1 end
          return { JOB_TYPE = "overflow", MAX_ERRORS = 1, run = function() return f(1) end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("stack overflow", d.errors[1].msg)
      end)

      it("does not let a job exit the host", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "exiter", MAX_ERRORS = 1, run = function() os.exit(3) end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("os.exit", d.errors[1].msg)
      end)

      it("records a failing continue_running() and finishes with 500", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "bad_cont",
          continue_running = function() error("broken override") end,
          run = function() error("first") end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("broken override", d.errors[2].msg)
      end)

      it("reports a failing get_data() as an error of the read, not of the host", function()
        local uuid = H.run_job(h, [[return { JOB_TYPE = "bad_data", run = function() end,
          get_data = function() error("no data today") end }]])
        local text, kind, msg = h:read("data", uuid)
        assert.is_nil(text)
        assert.are.equal("job", kind)
        assert.matches("no data today", msg)
        assert.are.equal(200, H.doc(h, uuid).resultCode)
      end)
    end)

    describe("a job killed mid-run (found with running = true)", function()
      -- A host that died mid-run leaves running = true behind. Only the store writes `running`,
      -- so the spec leaves it the way a dead host would, on Redis with a second connection (the
      -- mem:// store's side of this is pinned by spec/c/test_lifecycle.c: "a job found running is
      -- claimed as DIED").
      local socket = store:match("^unix://(.+)$")
      local it_ = socket and it or pending

      local function kill_then_run(max_errors_before)
        local t = H.define(h, [[return { JOB_TYPE = "victim", MAX_ERRORS = 3, run = function(self)
            self:record_event("ran")
          end }]])
        local uuid = H.submit(h, t)
        local key = ("{zq:zerog_jobs}:job:%s"):format(uuid)
        local errors = {}
        for i = 1, max_errors_before do
          errors[#errors + 1] = ("'{\"errorCode\":1,\"msg\":\"earlier %d\",\"timeStamp\":\"t\"}'"):format(i)
        end
        local cmd = ("redis-cli -s '%s' HSET '%s' running true errorCount %d _nl %d >/dev/null"):format(
          socket, key, max_errors_before, max_errors_before > 0 and 4 or 0)
        assert(os.execute(cmd))
        if #errors > 0 then
          assert(os.execute(("redis-cli -s '%s' RPUSH '%s:errors' %s >/dev/null"):format(socket, key,
            table.concat(errors, " "))))
        end
        assert.is_true(H.doc(h, uuid).running)
        local r = assert(h:step(0, { "zerog_jobs" }))
        return H.doc(h, uuid), r
      end

      it_("records the kill, 'Killed - Restarting', and runs it", function()
        local d, r = kill_then_run(0)
        assert.are.equal(500, d.errors[1].errorCode)
        assert.matches("killed", d.errors[1].msg)
        assert.are.same({ "Killed - Restarting", "ran" }, H.event_msgs(d))
        assert.are.equal("finished", r.outcome)
        assert.are.equal(200, d.resultCode)
        assert.is_false(d.running)
      end)

      it_("finishes it with 'Killed - Finished' when continue_running() says so", function()
        local d, r = kill_then_run(2) -- the kill is the third error: MAX_ERRORS reached
        assert.are.same({ "Killed - Finished" }, H.event_msgs(d))
        assert.are.equal(500, d.resultCode)
        assert.are.equal(3, d.errorCount)
        assert.are.equal("finished", r.outcome)
        assert.is_false(d.running)
      end)
    end)

    describe("a job whose document cannot be loaded", function()
      -- a new version of the type whose migrate() fails on the stored (older) documents
      local function unloadable_job()
        H.define(h, [[return { JOB_TYPE = "migrating", run = function() return 200 end }]], "jobs/migrating.lua")
        local uuid = H.submit(h, "migrating")
        H.define(h, [[return { JOB_TYPE = "migrating", SCHEMA_VERSION = "2.0",
          migrate = function() error("no way from 1.0") end, run = function() return 200 end }]],
          "jobs/migrating.lua")
        return uuid
      end

      it("is released with RETRY_DELAY, then buried with its reason once reserved more than 3 times", function()
        local uuid = unloadable_job()
        local outcomes = {}
        for i = 1, 4 do -- reserves 1 to 4
          h:kick("zerog_jobs")
          local r = assert(h:step(0))
          outcomes[i] = ("%s:%g"):format(r.outcome, r.delay)
        end
        assert.are.same({ "requeued:30", "requeued:30", "requeued:30", "buried:0" }, outcomes)
        assert.are.equal("buried", h:stats(uuid).state)
        assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 1 }, h:counts("zerog_jobs"))
        local d = H.doc(h, uuid)
        assert.is_false(d.running)
        assert.matches("no way from 1.0", d.errors[#d.errors].msg)
        local buried = H.json.decode(h:buried("zerog_jobs"))
        assert.are.equal(uuid, buried[1].uuid)
        assert.matches("no way from 1.0", buried[1].reason)
      end)

      it("goes back to waiting when kicked", function()
        local uuid = unloadable_job()
        for _ = 1, 4 do
          h:kick("zerog_jobs")
          assert(h:step(0))
        end
        assert.are.equal("buried", h:stats(uuid).state)
        assert.are.equal(1, h:kick("zerog_jobs"))
        assert.are.equal("ready", h:stats(uuid).state)
        assert.are.same({ ready = 1, delayed = 0, reserved = 0, buried = 0 }, h:counts("zerog_jobs"))
      end)
    end)

    it("settles by the job type's policy, whatever the job set on itself", function()
      local _, d = H.run_job(h, [[return { JOB_TYPE = "selfish", RETENTION = 60, run = function(self)
          self.RETENTION, self.RETRY_DELAY, self.MEMORY_LIMIT = "one week", {}, -1
          return 200
        end }]])
      assert.are.equal(200, d.resultCode)
      assert.is_false(d.running)
    end)

    it("a job handing the host a number where a uuid belongs gets an error, not a crash", function()
      local _, d = H.run_job(h, [[local zerog = require "zerog"
        return { JOB_TYPE = "numbers", SCHEMA = { seen = {} }, run = function(self)
          local seen = {}
          for i = 1, 200 do
            local j = zerog.get_job(self.uuid)
            j.uuid = 1e15 + i
            seen[#seen + 1] = (pcall(j.update_attrs, j, { seen = i }))
          end
          collectgarbage()
          self:update_attrs { seen = seen[1] }
        end }]])
      assert.is_false(d.seen)
      assert.are.equal(200, d.resultCode)
    end)

    it("refuses a job's writes to the fields only the engine writes", function()
      local _, d = H.run_job(h, [[return { JOB_TYPE = "owner", SCHEMA = { seen = {} }, run = function(self)
          local seen = {}
          for _, f in ipairs { "errorCount", "running", "jobType", "uuid", "queueName", "queueJobId" } do
            local ok, err = pcall(self.update_attrs, self, { [f] = 0 })
            seen[#seen + 1] = (not ok) and tostring(err):match("the engine's to write") ~= nil
          end
          self:update_attrs { seen = seen }
        end }]])
      assert.are.same({ true, true, true, true, true, true }, d.seen)
      assert.are.equal(0, d.errorCount)
    end)

    it("lets no job record another job's result (get_job, a forged uuid, save, BaseJob)", function()
      H.define(h, [[local zerog = require "zerog"
        return { JOB_TYPE = "finisher", QUEUE_NAME = "side", SCHEMA = { target = {}, refused = {} },
          run = function(self)
            local id, refused = self.target, {}
            for _, try in ipairs {
              function() zerog.get_job(id):record_result(410) end,
              function() zerog.get_job(id):update_attrs { resultCode = 410 } end,
              function() local j = zerog.get_job(id); j.resultCode = 410; j:save() end,
              function() local mine = zerog.get_job(self.uuid); mine.uuid = id; mine:record_result(410) end,
              function() zerog.BaseJob.record_result(zerog.get_job(id), 410) end,
            } do
              local ok, e = pcall(try)
              refused[#refused + 1] = not ok and tostring(e):find("resultCode is the engine's to write", 1, true) ~= nil
                or zerog.get_job(id).resultCode == -1
            end
            self:update_attrs { refused = refused }
          end }]])
      local t = H.define(h, [[return { JOB_TYPE = "never", run = function(self) self:record_event("ran") end }]])
      local uuid = H.submit(h, t)
      local finisher = H.submit(h, "finisher", { target = uuid })
      H.run(h, finisher)
      assert.are.same({ true, true, true, true, true }, H.doc(h, finisher).refused)
      assert.are.equal(-1, H.doc(h, uuid).resultCode)
      local r = assert(h:step(0, { "zerog_jobs" }))
      assert.are.equal(200, r.result)
      assert.are.same({ "ran" }, H.event_msgs(H.doc(h, uuid)))
    end)

    it("upgrades a stored job with the type's migrate() before it runs", function()
      H.define(h, [[return { JOB_TYPE = "versioned", SCHEMA = { size = { type = "integer" } },
        run = function() return -1, 0 end }]], "jobs/versioned.lua")
      local uuid = H.submit(h, "versioned", { size = 3 })
      H.define(h, [[return { JOB_TYPE = "versioned", SCHEMA_VERSION = "2.0",
        SCHEMA = { width = { type = "integer" }, seen = {} },
        migrate = function(doc, from) doc.width = doc.size * 10; doc.size = nil; return doc end,
        run = function(self) self:update_attrs { seen = { width = self.width } } end }]], "jobs/versioned.lua")
      local r = assert(h:step(0))
      assert.are.equal("finished", r.outcome)
      local d = H.doc(h, uuid)
      assert.are.equal("2.0", d.schemaVersion)
      assert.are.equal(30, d.width)
      assert.are.same({ width = 30 }, d.seen)
      assert.are.equal("Migrated from schema version 1.0 to 2.0", d.events[1].msg)
    end)

    describe("limits of a run", function()
      it("fails a run over its MEMORY_LIMIT with a clear error, and the host lives on", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "hog", MEMORY_LIMIT = 4 * 1024 * 1024, MAX_ERRORS = 1,
          run = function() local t = {} for i = 1, 1e7 do t[i] = ("x"):rep(100) .. i end end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("exceeded the job type's MEMORY_LIMIT of 4194304 bytes", d.errors[1].msg)
        local _, after = H.run_job(h, [[return { JOB_TYPE = "after_hog", run = function()
          local t = {} for i = 1, 1e5 do t[i] = i end return 200 end }]])
        assert.are.equal(200, after.resultCode)
      end)

      it("fails a run over its TIMEOUT, even a busy one that calls nothing", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "slowpoke", TIMEOUT = 0.3, MAX_ERRORS = 1,
          run = function() while true do end end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("exceeded the job type's TIMEOUT of 0.3 s", d.errors[1].msg)
      end)

      it("fails a run over its TIMEOUT while it sleeps", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "sleeper", TIMEOUT = 0.3, MAX_ERRORS = 1, run = function() zerog.sleep(30) end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("TIMEOUT of 0.3 s", d.errors[1].msg)
      end)

      it("does not let a job catch its TIMEOUT and carry on", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "catcher", TIMEOUT = 0.2, MAX_ERRORS = 1,
          run = function() while true do pcall(function() while true do end end) end end }]])
        assert.are.equal(500, d.resultCode)
        assert.matches("TIMEOUT", d.errors[1].msg)
      end)

      it("refuses a bad MEMORY_LIMIT or TIMEOUT when the script loads", function()
        local t, kind, msg = h:load_string("bad_limits.lua", "return { JOB_TYPE = 'bl', TIMEOUT = -1, run = function() end }")
        assert.is_nil(t)
        assert.are.equal("script", kind)
        assert.matches("TIMEOUT must be a number of seconds > 0", msg)
      end)
    end)

    it("runs a job whose document another writer changed just before the run started", function()
      -- as when the submitter stores queueJobId after the put and a worker reserved in between:
      -- the run's `running = true` write collides, reloads, and must not take the job for ended
      -- (every use of a type is a fresh instance of its script, so the other writer is a plain
      -- instance of the class made here: a get_job() would run this init again, and so on)
      local t = H.define(h, [[
        return { JOB_TYPE = "raced", SCHEMA = { note = {} },
          init = function(self) -- the engine's load is the first with a stored document
            if self.cas > 0 and self.note == nil and not self.other then
              local other = setmetatable({ uuid = self.uuid, cas = self.cas, other = true }, getmetatable(self))
              other:update_attrs { note = "written meanwhile" }
            end
          end,
          run = function(self) self:record_event("ran") return 200 end }]])
      local uuid = H.submit(h, t)
      local r, kind, msg = h:step(0)
      assert.is_truthy(r, tostring(kind) .. ": " .. tostring(msg))
      assert.are.equal("finished", r.outcome)
      local d = H.doc(h, uuid)
      assert.are.equal(200, d.resultCode)
      assert.are.equal("written meanwhile", d.note)
      assert.are.same({ "ran" }, H.event_msgs(d))
    end)

    it("sets running while run() executes and clears it afterwards", function()
      local _, d = H.run_job(h, [[local zerog = require "zerog"
        return { JOB_TYPE = "running_flag", SCHEMA = { seen = {} }, run = function(self)
          self:update_attrs { seen = { self.running, zerog.get_job(self.uuid).running } }
          error("and clears it on errors too")
        end, MAX_ERRORS = 1 }]])
      assert.are.same({ true, true }, d.seen)
      assert.is_false(d.running)
    end)

    it("keeps two hosts in one process apart", function()
      local other = H.host(store == "mem://" and "mem://" or store)
      local t = H.define(h, returning("apart", "200"))
      local uuid = H.submit(h, t)
      if store == "mem://" then
        local text, kind = other:read("dump", uuid)
        assert.is_nil(text)
        assert.are.equal("not_found", kind)
      end
      local r, kind = other:step(0)
      assert.is_nil(r)
      assert.are.equal("timeout", kind) -- it has no job types loaded
      other:close()
      assert.are.equal(200, H.run(h, uuid)[1].result)
    end)
  end)
end
