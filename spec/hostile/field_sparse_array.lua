-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 15000
-- An array field (marked as one by its SCHEMA default) given 41 entries at 1, 2, 4, ... 2^40: its
-- length (#) is 2^40, so its text would be 2^40 items long. The C writer of plain values
-- (host/json_encode.c) must not walk it (past the count hook); the Lua encoder does, and TIMEOUT
-- stops it.
return { JOB_TYPE = "field_sparse_array", TIMEOUT = 0.3, MAX_ERRORS = 1,
  SCHEMA = { tags = { type = "array", default = {} } },
  run = function(self)
    local t = self.tags
    for k = 40, 0, -1 do t[1 << k] = 1 end
    self.tags = t
    self:save()
    return 200
  end }
