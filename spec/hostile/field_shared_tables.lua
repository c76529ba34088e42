-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 15000
-- A field whose text would be gigabytes though its table is small: 64 keys that all hold the same
-- table, 5 levels deep (64^5 values to write). The host writes plain values in C
-- (host/json_encode.c), where the count hook that enforces TIMEOUT does not reach: it must give
-- such a value up at once (FAST_BYTES) and leave it to the Lua encoder, which TIMEOUT stops.
-- Without that bound the C walk ran for hours, or the watchdog ended the whole worker.
return { JOB_TYPE = "field_shared_tables", TIMEOUT = 0.3, MAX_ERRORS = 1,
  SCHEMA = { v = { type = "any" } },
  run = function(self)
    local t = 0.5
    for _ = 1, 5 do
      local level = {}
      for i = 1, 64 do level["k" .. i] = t end
      t = level
    end
    self.v = t
    self:save()
    return 200
  end }
