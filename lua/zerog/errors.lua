--- zerog.errors: the error values the host raises. Each is a table with `kind` (one of the kind
-- names below, also exported by the `zerog` module), `msg`, and for errors and results `code`.
-- tostring() of one gives "Kind: msg", so an uncaught one still reads well in a traceback.
local M = {
  ErrorContinue = "ErrorContinue",
  ErrorFinish = "ErrorFinish",
  WarningContinue = "WarningContinue",
  WarningFinish = "WarningFinish",
  CasError = "CasError",
  LeaseLost = "LeaseLost",
}

-- raised by the host (as a message) when a run's lease is no longer current
local LEASE_LOST_PREFIX = "zerog: LeaseLost: "

-- the originals, captured before any job code runs
local setmetatable, getmetatable, tostring, error, type = setmetatable, debug.getmetatable, tostring, error, type
local find = string.find

-- shared by every error value: protected, so a job cannot change how errors read or are told
-- apart (getmetatable(e) gives the text "zerog.error")
local mt = { __name = "zerog.error", __metatable = "zerog.error" }
mt.__tostring = function(e) return e.kind .. ": " .. tostring(e.msg) end

function M.new(kind, msg, code)
  return setmetatable({ kind = kind, msg = msg, code = code }, mt)
end

function M.raise(kind, msg, code)
  error(M.new(kind, msg, code), 0)
end

--- The kind of a raised value when it is one of ours, else nil.
function M.kind_of(e)
  if type(e) == "string" and find(e, LEASE_LOST_PREFIX, 1, true) then return M.LeaseLost end
  return getmetatable(e) == mt and e.kind or nil
end

return M
