-- The job API: every method of BaseJob, as a job script sees it, on every backend.
local H = require "helper"

for _, store in ipairs(H.stores) do
  describe("job API on " .. store, function()
    local h
    before_each(function()
      H.reset(store)
      h = H.host(store)
    end)
    after_each(function() h:close() end)

    describe("the document", function()
      it("has every BaseJobSchema field with its default before the first run", function()
        local t = H.define(h, [[return { JOB_TYPE = "doc_fields", run = function() return 200 end }]])
        local uuid = H.submit(h, t)
        local d = H.doc(h, uuid)
        assert.are.equal("zerog_job", d.documentType)
        assert.are.equal("doc_fields", d.jobType)
        assert.are.equal("1.0", d.schemaVersion)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", d.createdAt)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", d.updatedAt)
        assert.is_true(d.cas > 0)
        assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", d.uuid)
        assert.are.equal(uuid, d.uuid)
        assert.are.equal("doc_fields_" .. uuid, d.logId)
        assert.are.equal("zerog_jobs", d.queueName)
        assert.are.same({ delay = 0, ttr = 60, priority = 1024 }, d.queueKwargs)
        assert.is_true(d.queueJobId > 0)
        assert.are.same({}, d.events)
        assert.are.same({}, d.warnings)
        assert.are.same({}, d.errors)
        assert.is_false(d.running)
        assert.are.equal(0, d.errorCount)
        assert.are.equal(0, d.completeness)
        assert.are.equal(0, d.tickcount)
        assert.are.equal(0.001, d.tickval)
        assert.are.equal(-1, d.resultCode)
      end)

      it("writes its empty lists as JSON arrays", function()
        local t = H.define(h, [[return { JOB_TYPE = "empty_lists", run = function() return 200 end }]])
        local text = h:read("dump", H.submit(h, t))
        assert.matches('"events":%[%]', text)
        assert.matches('"warnings":%[%]', text)
        assert.matches('"errors":%[%]', text)
      end)

      it("keeps the type's SCHEMA fields and SCHEMA_VERSION", function()
        local t = H.define(h, [[return { JOB_TYPE = "schema_fields", SCHEMA_VERSION = "2.5",
          SCHEMA = { name = { type = "string", default = "x" }, n = { type = "integer" } },
          run = function() return 200 end }]])
        local d = H.doc(h, H.submit(h, t, { n = 4 }))
        assert.are.equal("x", d.name)
        assert.are.equal(4, d.n)
        assert.are.equal("2.5", d.schemaVersion)
      end)
    end)

    it("key() and zerog.make_key give zerog_job_<uuid>", function()
      local uuid, d = H.run_job(h, [[local zerog = require "zerog"
        return { JOB_TYPE = "keys", SCHEMA = { seen = {} },
          run = function(self)
            self:update_attrs { seen = { self:key(), zerog.make_key(self.uuid) } }
          end }]])
      assert.are.same({ "zerog_job_" .. uuid, "zerog_job_" .. uuid }, d.seen)
    end)

    it("dump() holds the fields and dumps() is its JSON text", function()
      local _, d = H.run_job(h, [[local zerog = require "zerog"
        return { JOB_TYPE = "dumps", SCHEMA = { seen = {}, k = { default = 7 } },
          run = function(self)
            local dump = self:dump()
            local back = zerog.json.decode(self:dumps())
            self:update_attrs { seen = { uuid = dump.uuid, k = dump.k, same = back.uuid == dump.uuid
              and back.cas == dump.cas and back.k == 7, events_is_list = self:dumps():find('"events":%[') ~= nil } }
          end }]])
      assert.is_true(d.seen.same)
      assert.are.equal(7, d.seen.k)
      assert.is_true(d.seen.events_is_list)
    end)

    describe("compare-and-swap", function()
      it("a stale save() fails with a CasError", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "stale_save", SCHEMA = { seen = {}, note = {} },
            run = function(self)
              local other = zerog.get_job(self.uuid)
              other:update_attrs { note = "other" }
              self.note = "mine"
              local ok, err = pcall(self.save, self)
              self:reload()
              self:update_attrs { seen = { ok = ok, kind = err.kind, is_cas = err.kind == zerog.CasError,
                                           note = self.note } }
            end }]])
        assert.is_false(d.seen.ok)
        assert.are.equal("CasError", d.seen.kind)
        assert.is_true(d.seen.is_cas)
        assert.are.equal("other", d.seen.note)
      end)

      it("a save() with the current cas succeeds and bumps it", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "fresh_save", SCHEMA = { seen = {}, note = {} },
            run = function(self)
              local before = self.cas
              self.note = "saved"
              self:save()
              self:update_attrs { seen = { bumped = self.cas > before } }
            end }]])
        assert.is_true(d.seen.bumped)
        assert.are.equal("saved", d.note)
      end)

      it("a stale update_attrs() reloads, re-applies and succeeds: the last writer wins", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "stale_update", SCHEMA = { a = {}, b = {} },
            run = function(self)
              local other = zerog.get_job(self.uuid)
              other:update_attrs { a = "other", b = "other" }
              self:update_attrs { a = "mine" }  -- stale cas: collides, reloads, retries
            end }]])
        assert.are.equal("mine", d.a)
        assert.are.equal("other", d.b) -- the reload took the other writer's b
      end)

      it("update_attrs() never fails on contention: it is one step in the store", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "cas_storm", SCHEMA = { seen = {}, a = {} },
            run = function(self)
              local other = zerog.get_job(self.uuid)
              for i = 1, 20 do
                other:update_attrs { a = "other " .. i }  -- someone else writes between ours
                local ok = pcall(self.update_attrs, self, { a = "mine " .. i })
                if not ok then self:update_attrs { seen = "failed at " .. i } return end
              end
              self:update_attrs { seen = { a = self.a, cas = self.cas } }
            end }]])
        assert.are.equal("mine 20", d.seen.a)
        assert.are.equal("mine 20", d.a)
      end)

      it("reload() takes another instance's changes", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "reloads", SCHEMA = { seen = {}, note = {} },
            run = function(self)
              zerog.get_job(self.uuid):update_attrs { note = "changed" }
              local before = self.note
              self:reload()
              self:update_attrs { seen = { before = before or "nil", after = self.note } }
            end }]])
        assert.are.same({ before = "nil", after = "changed" }, d.seen)
      end)

      it("update_attrs() refuses unknown fields, lists, and values of the wrong type", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "bad_update", SCHEMA = { seen = {}, n = { type = "integer" } },
            run = function(self)
              local r = {}
              r.unknown = select(2, pcall(self.update_attrs, self, { nope = 1 }))
              r.list = select(2, pcall(self.update_attrs, self, { events = {} }))
              r.type = select(2, pcall(self.update_attrs, self, { n = "x" }))
              self:update_attrs { seen = r }
            end }]])
        assert.matches("nope is not a field", d.seen.unknown)
        assert.matches("events is a list", d.seen.list)
        assert.matches("field n must be an integer", d.seen.type)
      end)
    end)

    describe("the run's bookkeeping is the engine's", function()
      it("a job that sets self.uuid to another job's cannot write on that job", function()
        local victim_type = H.define(h, [[return { JOB_TYPE = "victim", QUEUE_NAME = "victims",
          run = function() return 200 end }]])
        local victim = H.submit(h, victim_type)
        local uuid, d = H.run_job(h, ([[return { JOB_TYPE = "forger", SCHEMA = { note = {} },
          run = function(self)
            self.uuid = "%s"
            self.cas, self.running, self.resultCode = 999, false, 201
            self:update_attrs { note = "written" }
            self:record_event("forged")
            return 202
          end }]]):format(victim))
        assert.are.equal(202, d.resultCode) -- its own document got its own result
        assert.are.equal(uuid, d.uuid)
        assert.are.equal("written", d.note)
        assert.is_true(H.contains(H.event_msgs(d), "forged"))
        local v = H.doc(h, victim)
        assert.are.equal(-1, v.resultCode) -- the other job is untouched, still waiting
        assert.are.same({}, H.event_msgs(v))
        assert.are.equal("ready", h:stats(victim).state)
      end)
    end)

    describe("no fixed caps", function()
      it("a job type with 200 SCHEMA fields is submitted, run and updated", function()
        local fields, sets = {}, {}
        for i = 1, 200 do
          fields[#fields + 1] = ("f%d = { type = \"integer\", default = %d }"):format(i, i)
          sets[#sets + 1] = ("f%d = self.f%d + 1000"):format(i, i)
        end
        local params = {}
        for i = 1, 200, 2 do params["f" .. i] = -i end
        local _, d = H.run_job(h, ("return { JOB_TYPE = \"wide\", SCHEMA = { %s }, run = function(self) "
          .. "self:update_attrs { %s } return 200 end }"):format(table.concat(fields, ", "),
          table.concat(sets, ", ")), params)
        assert.are.equal(200, d.resultCode)
        for i = 1, 200 do
          assert.are.equal((i % 2 == 1 and -i or i) + 1000, d["f" .. i])
        end
      end)
    end)

    describe("records", function()
      it("record_event / record_warning append {timeStamp, msg}", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "records", run = function(self)
            self:record_event("e1"); self:record_event("e2"); self:record_warning("w1")
          end }]])
        assert.are.same({ "e1", "e2" }, H.event_msgs(d))
        assert.are.equal("w1", d.warnings[1].msg)
        assert.matches("Z$", d.events[1].timeStamp)
        assert.matches("Z$", d.warnings[1].timeStamp)
      end)

      it("record_error appends {timeStamp, errorCode, msg} and counts errorCount", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "rec_errors", run = function(self)
            self:record_error(512, "first"); self:record_error(513, "second", {})
          end }]])
        assert.are.equal(2, d.errorCount)
        assert.are.equal(512, d.errors[1].errorCode)
        assert.are.equal("first", d.errors[1].msg)
        assert.are.equal(513, d.errors[2].errorCode)
        assert.matches("Z$", d.errors[2].timeStamp)
      end)

      it("record_result sets resultCode and completeness 1", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "rec_result", SCHEMA = { seen = {} },
            run = function(self)
              self:record_result(207)
              self:update_attrs { seen = { self.resultCode, self.completeness } }
              return 207
            end }]])
        assert.are.same({ 207, 1 }, d.seen)
        assert.are.equal(207, d.resultCode)
      end)

      it("job_log_info/warning/error record and log a line with the job's logId", function()
        local uuid, d = H.run_job(h, [[return { JOB_TYPE = "logs", run = function(self)
            self:job_log_info("an info"); self:job_log_warning("a warning"); self:job_log_error(418, "an error")
          end }]])
        assert.is_true(H.contains(H.event_msgs(d), "an info"))
        assert.are.equal("a warning", d.warnings[1].msg)
        assert.are.equal(418, d.errors[1].errorCode)
        assert.are.equal(1, d.errorCount)
        local lines = {}
        for _, l in ipairs(h.logs) do
          if l[2] == "logs_" .. uuid then lines[#lines + 1] = l[1] .. ":" .. l[3] end
        end
        assert.are.same({ "info:an info", "warning:a warning", "error:418 an error" }, lines)
      end)

      it("keeps appends from two instances of one job (none lost)", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "two_writers", run = function(self)
            local other = zerog.get_job(self.uuid)
            for i = 1, 20 do self:record_event("a" .. i); other:record_event("b" .. i) end
          end }]])
        local a, b = 0, 0
        for _, m in ipairs(H.event_msgs(d)) do
          if m:match("^a%d") then a = a + 1 elseif m:match("^b%d") then b = b + 1 end
        end
        assert.are.same({ 20, 20 }, { a, b })
      end)
    end)

    describe("completeness", function()
      it("set_completeness clamps to [0, 1]", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "clamp", SCHEMA = { seen = {} }, run = function(self)
            local s = {}
            self:set_completeness(1.5); s[1] = self.completeness
            self:set_completeness(-0.2); s[2] = self.completeness
            self:set_completeness(0.25); s[3] = self.completeness
            self:update_attrs { seen = s }
            return -1
          end }]], nil)
        assert.are.same({ 1, 0, 0.25 }, d.seen)
      end)

      it("add_to_completeness adds the delta and the unrecorded ticks, clamped", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "add", SCHEMA = { seen = {} }, run = function(self)
            local s = {}
            self:set_tick_value(0.004)
            self:tick()                      -- 0.004 unrecorded
            self:add_to_completeness(0.1)    -- 0.104
            s[1] = self.completeness; s[2] = self.tickcount
            self:add_to_completeness(5)      -- clamped
            s[3] = self.completeness
            self:update_attrs { seen = s }
          end }]])
        assert.are.equal(0.104, d.seen[1]) -- kept to 6 decimals, without float noise
        assert.are.equal(0, d.seen[2])
        assert.are.equal(1, d.seen[3])
      end)

      it("tick with tickval 0.006 gives 0, 0.012, 0.012, 0.024", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "ticks", SCHEMA = { seen = {} }, run = function(self)
            self:set_tick_value(0.006)
            local s = {}
            for i = 1, 4 do self:tick(); s[i] = zerog.get_job(self.uuid).completeness end
            self:update_attrs { seen = s }
          end }]])
        assert.are.same({ 0, 0.012, 0.012, 0.024 }, d.seen)
      end)

      it("set_tick_value stores tickval", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "tickval", run = function(self)
            self:set_tick_value(0.05)
          end }]])
        assert.are.equal(0.05, d.tickval)
      end)

      it("reports progress to the host while the job runs", function()
        local uuid = H.run_job(h, [[return { JOB_TYPE = "reports", run = function(self)
            self:set_completeness(0.5); self:record_event("half")
          end }]])
        local seen_half, seen_event = false, false
        for _, p in ipairs(h.progress) do
          if p[1] == uuid and p[2] == 0.5 then seen_half = true end
          if p[1] == uuid and p[3] == "half" then seen_event = true end
        end
        assert.is_true(seen_half)
        assert.is_true(seen_event)
      end)
    end)

    describe("enqueue", function()
      it("puts the job on its queue with delay, ttr and priority and records them", function()
        local t = H.define(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "spawner", SCHEMA = { child = {} }, run = function(self)
            local c = zerog.make_job("spawned", { n = 1 })
            c:save()
            c:enqueue { delay = 100, ttr = 5, priority = 3 }
            self:update_attrs { child = c.uuid }
          end }]])
        H.define(h, [[return { JOB_TYPE = "spawned", QUEUE_NAME = "children", SCHEMA = { n = { type = "integer" } },
          run = function() return 200 end }]])
        local uuid = H.submit(h, t)
        H.run(h, uuid)
        local child = H.doc(h, H.doc(h, uuid).child)
        assert.are.equal("children", child.queueName)
        assert.are.same({ delay = 100, ttr = 5, priority = 3 }, child.queueKwargs)
        local st = h:stats(child.uuid)
        assert.are.equal("delayed", st.state)
        assert.are.equal(3, st.priority)
        assert.are.same({ ready = 0, delayed = 1, reserved = 0, buried = 0 }, h:counts("children"))
      end)

      it("refuses bad arguments and returns the reason", function()
        local _, d = H.run_job(h, [[return { JOB_TYPE = "bad_enqueue", SCHEMA = { seen = {} }, run = function(self)
            local _, why = self:enqueue { delay = -1 }
            self:update_attrs { seen = why }
          end }]])
        assert.matches("delay", d.seen)
      end)

      it("refuses a TTR too short to be renewed, and delays or TTRs beyond a year, as invalid", function()
        local t = H.define(h, [[return { JOB_TYPE = "bounded", run = function() return 200 end }]])
        for _, opts in ipairs { { ttr = 0.002 }, { ttr = 1e12 }, { delay = 1e12 } } do
          local uuid, kind, msg = h:submit(t, "{}", opts)
          assert.is_nil(uuid)
          assert.are.equal("invalid", kind)
          assert.matches(opts.ttr and "ttr must be" or "delay must be", msg)
        end
        assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 0 }, h:counts("zerog_jobs"))
      end)
    end)

    it("progress() and info() give completeness, result and the lists", function()
      local _, d = H.run_job(h, [[return { JOB_TYPE = "views", SCHEMA = { seen = {} }, run = function(self)
          self:set_completeness(0.5); self:record_event("e"); self:record_warning("w"); self:record_error(1, "x")
          local p, i = self:progress(), self:info()
          self:update_attrs { seen = { p = p, i = { completeness = i.completeness, result = i.result,
            events = #i.events, warnings = #i.warnings, errors = #i.errors } } }
        end }]])
      assert.are.same({ completeness = 0.5, result = -1 }, d.seen.p)
      assert.are.same({ completeness = 0.5, result = -1, events = 1, warnings = 1, errors = 1 }, d.seen.i)
    end)

    it("progress, info, data and dump views read the stored job", function()
      local uuid = H.run_job(h, [[return { JOB_TYPE = "read_views", run = function(self)
          self:record_event("done")
        end, get_data = function(self) return { answer = 42, uuid = self.uuid } end }]])
      assert.are.same({ completeness = 1, result = 200 }, H.view(h, "progress", uuid))
      local info = H.view(h, "info", uuid)
      assert.are.equal("done", info.events[1].msg)
      assert.are.same({}, info.errors)
      assert.are.same({ answer = 42, uuid = uuid }, H.view(h, "data", uuid))
      assert.are.equal(uuid, H.view(h, "dump", uuid).uuid)
    end)

    it("get_data() defaults to an empty object", function()
      local uuid = H.run_job(h, [[return { JOB_TYPE = "no_data", run = function() end }]])
      assert.are.equal("{}", h:read("data", uuid))
    end)

    it("continue_running() is -1 below MAX_ERRORS and 500 at it", function()
      local _, d = H.run_job(h, [[return { JOB_TYPE = "cont", MAX_ERRORS = 2, SCHEMA = { seen = {} }, run = function(self)
          local s = { self:continue_running() }
          self:record_error(1, "a"); s[2] = self:continue_running()
          self:record_error(1, "b"); s[3] = self:continue_running()
          self:update_attrs { seen = s }
        end }]])
      assert.are.same({ -1, -1, 500 }, d.seen)
    end)

    it("init() runs after the fields are loaded", function()
      local _, d = H.run_job(h, [[return { JOB_TYPE = "inits", SCHEMA = { n = { type = "integer", default = 3 }, seen = {} },
          init = function(self) self.doubled = self.n * 2 end,
          run = function(self) self:update_attrs { seen = self.doubled } end }]])
      assert.are.equal(6, d.seen)
    end)

    describe("keep_alive and the heartbeat", function()
      it("keep_alive() renews the running job's reservation, and only its own", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "alive", SCHEMA = { seen = {} }, run = function(self)
            local other = zerog.make_job("alive", {})
            self:update_attrs { seen = { self:keep_alive(), other:keep_alive() } }
          end }]])
        assert.are.same({ true, false }, d.seen)
      end)

      it("renews the reservation of a job busy far beyond its TTR without any binding call", function()
        local t = H.define(h, [[return { JOB_TYPE = "busy", TTR = 0.2, run = function(self)
            local t = os.clock() + 1.0
            while os.clock() < t do end  -- 5 TTRs of pure computation
          end }]])
        local uuid = H.submit(h, t)
        local r, kind, msg = h:step(0)
        assert.is_truthy(r, tostring(kind) .. " " .. tostring(msg))
        assert.are.equal("finished", r.outcome)
        local d = H.doc(h, uuid)
        assert.are.equal(200, d.resultCode)
        assert.are.equal(0, d.errorCount)
      end)
    end)

    describe("the zerog module", function()
      it("exports the constants, error kinds and a cjson of its own", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "module", SCHEMA = { seen = {} }, run = function(self)
            self:update_attrs { seen = { zerog.NO_RESULT, zerog.INTERNAL_ERROR, zerog.ErrorContinue,
              zerog.ErrorFinish, zerog.WarningContinue, zerog.WarningFinish, zerog.CasError,
              zerog.json.decode(zerog.json.encode({ 3 }))[1] == 3 } }
          end }]])
        assert.are.same({ -1, 500, "ErrorContinue", "ErrorFinish", "WarningContinue", "WarningFinish",
                          "CasError", true }, d.seen)
      end)

      it("get_job() loads a separate instance, nil for an unknown uuid", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "getjob", SCHEMA = { seen = {} }, run = function(self)
            local other = zerog.get_job(self.uuid)
            self:update_attrs { seen = { other ~= self, other.uuid == self.uuid,
              zerog.get_job("00000000-0000-4000-8000-000000000000") == nil } }
          end }]])
        assert.are.same({ true, true, true }, d.seen)
      end)

      it("make_job() validates params and builds an unsaved job", function()
        local _, d = H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "maker", SCHEMA = { seen = {}, n = { type = "integer" } }, run = function(self)
            local j = zerog.make_job("maker", { n = 5 })
            local ok, err = pcall(zerog.make_job, "maker", { n = "five" })
            self:update_attrs { seen = { j.cas, j.n, ok, err } }
          end }]])
        assert.are.equal(0, d.seen[1])
        assert.are.equal(5, d.seen[2])
        assert.is_false(d.seen[3])
        assert.matches("field n must be an integer", d.seen[4])
      end)

      it("log.info/warning/error go to the host's log", function()
        H.run_job(h, [[local zerog = require "zerog"
          return { JOB_TYPE = "modlog", run = function()
            zerog.log.info("i", 1); zerog.log.warning("w"); zerog.log.error("e")
          end }]])
        local got = {}
        for _, l in ipairs(h.logs) do got[#got + 1] = l[1] .. ":" .. l[3] end
        assert.is_true(H.contains(got, "info:i 1"))
        assert.is_true(H.contains(got, "warning:w"))
        assert.is_true(H.contains(got, "error:e"))
      end)
    end)
  end)
end
