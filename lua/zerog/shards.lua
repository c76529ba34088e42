--- shards: sharded queues (README "Sharded queues"). A job type with SHARDS = n (2 to 64) puts
-- its jobs on the queues Q~0 .. Q~(n-1) of its queue Q (the store records n: any client finds
-- the shards of Q); a submit picks the shard, a worker claims from every shard (the stores
-- break ties between queues from a place that moves on at each look: not always shard 0).
-- Above both stores: each just sees more queues (Redis places them: store_redis.c).
local core = require "zerog.core"
local codec = require "zerog.codec"

local M = {}

local type, ipairs = type, ipairs

-- The queues whose shard count this process has checked against the store: Q -> n.
local declared = {}
-- Round robin: per queue, the next shard (from a random start: processes do not move in step).
local next_shard = {}

--- A stable 32-bit hash of a string (FNV-1a): the same shard for the same value in every process.
function M.hash(s)
  local h = 2166136261
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff
  end
  return h
end

--- Checks (once per process and queue) that the store records n shards for queue, recording
-- it when it records none; raises a clear error when they differ.
function M.ensure(queue, n)
  if declared[queue] == n then return end
  local ok, why = core.shards_declare(queue, n)
  if not ok then error(why, 0) end
  declared[queue] = n
end

--- The shard a job's own keys pin it to: by its SHARD_BY field's value (its JSON text), else
-- its unique key (uniqueness holds across shards), else its group (a group's limits hold
-- exactly); nil when none does (round robin). A REPEAT's or a schedule's shard comes from here
-- too, so that its ticks' jobs meet the submitted ones of the same key.
function M.keyed_index(job, n)
  local by = job.SHARD_BY
  if type(by) == "string" then
    local v = job[by]
    return M.hash(codec.encode(v == nil and codec.null or v)) % n
  end
  local unique = job:_unique_key()
  if unique then return M.hash(unique.key) % n end
  local group = job:_group()
  if group then return M.hash(group) % n end
  return nil
end

--- The shard count of queue as the store records it (1: not sharded), for a queue no loaded
-- type declares (a spawn's or a schedule's queue option): read, never recorded.
function M.count(queue)
  if queue:find("~", 1, true) then return 1 end
  return declared[queue] or core.shard_count(queue)
end

--- The shard a new job goes to (its store queue): its type's queue has the type's SHARDS
-- (checked against the store's record); another queue (options.queue of a spawn) has the
-- count the store records for it, which the job's type does not change. Keyed (keyed_index),
-- else round robin.
function M.pick(job, queue, n)
  if queue == job.QUEUE_NAME then
    M.ensure(queue, n)
  else
    n = M.count(queue)
  end
  if n <= 1 then return queue end
  local i = M.keyed_index(job, n)
  if not i then
    i = next_shard[queue] or M.hash(core.uuid4()) % n
    next_shard[queue] = (i + 1) % n
  end
  return queue .. "~" .. i
end

--- The store queues to claim from for queues (names of queues; shards_of: Q -> n for the loaded
-- types' queues, checked by ensure).
function M.claim_queues(queues, shards_of)
  local out = {}
  for _, q in ipairs(queues) do
    local n = shards_of[q] or declared[q]
    if not n then -- (a queue no loaded type uses: the store's count, once per process)
      n = q:find("~", 1, true) and 1 or core.shard_count(q)
      declared[q] = n
    end
    if n > 1 then
      for k = 0, n - 1 do out[#out + 1] = q .. "~" .. k end
    else
      out[#out + 1] = q
    end
  end
  return out
end

return M
