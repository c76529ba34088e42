--- Spec helper: builds hosts on every backend under test and runs jobs through the public API.
local build = os.getenv("ZEROG_BUILD") or "build"
package.cpath = build .. "/spec/?.so;" .. package.cpath

local zs = require "zerog_spec"
local cjson = require "cjson"

local H = { json = cjson }

--- The store URLs every backend-independent spec runs against.
H.stores = { "mem://" }
local redis = os.getenv("ZEROG_SPEC_REDIS")
if redis and redis ~= "" then H.stores[#H.stores + 1] = redis end

--- Empties a Redis store between specs, so each starts from nothing (mem:// hosts start empty).
function H.reset(store)
  local socket = store and store:match("^unix://(.+)$")
  if socket then
    assert(os.execute("redis-cli -s '" .. socket .. "' FLUSHALL >/dev/null"), "FLUSHALL failed")
  elseif store and store:match("^redis%+cluster://") then
    -- every master of the cluster (spec/support/cluster.sh); replicas refuse, and follow
    for port in (os.getenv("CLUSTER_PORTS") or ""):gmatch("%d+") do
      os.execute("redis-cli -p " .. port .. " FLUSHALL >/dev/null 2>&1")
    end
  end
end

function H.host(store)
  local h, kind, msg = zs.new { store = store or "mem://" }
  assert(h, tostring(kind) .. ": " .. tostring(msg))
  return h
end

local counter = 0

--- Loads a job type from source text under a made-up path; returns its JOB_TYPE.
function H.define(h, source, path)
  counter = counter + 1
  local t, kind, msg = h:load_string(path or ("spec_job_" .. counter .. ".lua"), source)
  assert(t, tostring(kind) .. ": " .. tostring(msg))
  return t
end

function H.submit(h, job_type, params, opts)
  local uuid, kind, msg = h:submit(job_type, params and cjson.encode(params) or "{}", opts)
  assert(uuid, tostring(kind) .. ": " .. tostring(msg))
  return uuid
end

--- The whole document of a job, decoded.
function H.doc(h, uuid)
  local text, kind, msg = h:read("dump", uuid)
  assert(text, tostring(kind) .. ": " .. tostring(msg))
  return cjson.decode(text)
end

function H.view(h, view, uuid)
  local text, kind, msg = h:read(view, uuid)
  assert(text, tostring(kind) .. ": " .. tostring(msg))
  return cjson.decode(text)
end

--- Steps the host until the job uuid has finished (or max steps), kicking delayed messages of
-- its queue so requeue delays are not waited out; only the job's own queue is served, so jobs
-- queued elsewhere stay put. Returns the list of step results for uuid.
function H.run(h, uuid, max_steps)
  local steps = {}
  local queue = H.doc(h, uuid).queueName
  for _ = 1, max_steps or 50 do
    local r, kind, msg = h:step(0, { queue })
    if not r then
      assert(kind == "timeout", tostring(kind) .. ": " .. tostring(msg))
      if h:kick(queue) == 0 then break end
    elseif r.uuid == uuid then
      steps[#steps + 1] = r
      if r.outcome ~= "requeued" then break end
    end
  end
  return steps
end

--- Defines a job type, submits one job and runs it to its end; returns uuid, doc, steps.
function H.run_job(h, source, params, opts)
  local t = H.define(h, source)
  local uuid = H.submit(h, t, params, opts)
  local steps = H.run(h, uuid)
  return uuid, H.doc(h, uuid), steps
end

--- The messages of the events of a document.
function H.event_msgs(doc)
  local out = {}
  for i, e in ipairs(doc.events) do out[i] = e.msg end
  return out
end

function H.contains(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

return H
