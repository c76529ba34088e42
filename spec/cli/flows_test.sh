#!/usr/bin/env bash
# Flows from the outside, on Redis: `zerog submit --batch FILE --then TYPE --then-params JSON`
# prints the callback's uuid last and the callback runs once after the batch; a parked parent is
# listed by `zerog list --state parked`, survives every host being down, and resumes once when a
# host comes back, even when a worker running one of its children is killed -9.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
cat >"$JOBS/part.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "part", QUEUE_NAME = "parts", TTR = 1, SCHEMA = { n = { type = "integer" } },
  run = function(self) if self.n == 2 then zerog.sleep(3) end; return self.n == 3 and 500 or 200 end }
LUA
cat >"$JOBS/summary.lua" <<'LUA'
return { JOB_TYPE = "summary", QUEUE_NAME = "summaries", SCHEMA = { label = { type = "string" },
  ends = { type = "string" } },
  run = function(self)
    local codes = {}
    for _, c in ipairs(self:children()) do codes[#codes + 1] = tostring(c.resultCode) end
    self:update_attrs { ends = self.label .. " " .. table.concat(codes, ",") }
    return 200
  end }
LUA
cat >"$JOBS/whole.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "whole", QUEUE_NAME = "wholes", SCHEMA = { ends = { type = "string" } },
  run = function(self)
    if self.flowRound == 0 then
      for n = 1, 2 do self:spawn("part", { n = n }) end
      return zerog.WAIT_CHILDREN
    end
    local codes = {}
    for _, c in ipairs(self:children()) do codes[#codes + 1] = tostring(c.resultCode) end
    self:update_attrs { ends = table.concat(codes, ",") }
    return 200
  end }
LUA

batch_then() {
  flush
  printf '{"n": 1}\n{"n": 3}\n' >"$WORK/batch"
  expect_status 0 "$ZEROG" submit part --batch "$WORK/batch" --then summary \
    --then-params '{"label": "done"}' || return 1
  [ "$(wc -l <"$WORK/out")" -eq 3 ] || return 1
  local cb; cb=$(sed -n 3p "$WORK/out")
  "$ZEROG" list --state parked --json | grep -q "$cb" || return 1
  timeout 30 "$ZEROG" worker --until-idle >/dev/null 2>&1
  [ "$(hget "$cb" resultCode)" = 200 ] && [ "$(hget "$cb" ends)" = '"done 200,500"' ]
}
ok "submit --batch --then prints the callback last; it runs once the batch has ended" batch_then

then_needs_batch() {
  expect_status 2 "$ZEROG" submit part '{"n": 1}' --then summary && grep -q "goes with --batch" "$WORK/err"
}
ok "--then without --batch is refused" then_needs_batch

# parent parks (its worker serves only its queue and exits), no host is up; then a worker takes
# the slow child 2 and is killed -9 in its run; another worker finishes everything: the parent
# resumes exactly once with both children's ends
survive_and_kill9() {
  flush
  local p; p=$("$ZEROG" submit whole '{}') || return 1
  timeout 30 "$ZEROG" worker --queue wholes --until-idle >/dev/null 2>&1
  [ "$(rcli HGET "$(jkey "$p")" _state)" = parked ] || { echo "not parked"; return 1; }
  "$ZEROG" list --state parked | grep -q "$p" || return 1
  "$ZEROG" worker --queue parts >"$WORK/w1.log" 2>&1 &
  local w1=$!
  # wait until child 2 runs (child 1 finishes at once)
  wait_for 20 sh -c "'$ZEROG' list --state running --queue parts | grep -q part" || { kill -9 $w1; return 1; }
  kill -9 $w1; wait $w1 2>/dev/null
  [ "$(rcli HGET "$(jkey "$p")" _state)" = parked ] || { echo "resumed too early"; return 1; }
  # (the killed run's lease lapses after its TTR of 1 s; idle workers until the parent has ended)
  wait_for 40 sh -c "timeout 20 '$ZEROG' worker --until-idle >/dev/null 2>&1;
    [ \"\$(redis-cli -s '$REDIS_SOCK' HGET '$(jkey "$p")' resultCode)\" = 200 ]" || {
    echo "parent: $(rcli HGET "$(jkey "$p")" _state)"; return 1; }
  [ "$(hget "$p" ends)" = '"200,200"' ] &&
  [ "$(rcli LLEN "$(jkey "$p"):events")" = 1 ] # one "Waiting for children": one park, one resume
}
ok "a parked parent survives every host down and a worker killed -9 in a child; resumes once" survive_and_kill9

# A parent of a type with GROUP (and CONCURRENCY): parked, then ready again in its group's own
# ready set (a resume put in the type's plain set would never be claimed), and its concurrency
# slot freed while it is parked (else its own child, of the same group and type... waits forever)
cat >"$JOBS/grouped.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "grouped", QUEUE_NAME = "grouped_q", GROUP = "g", CONCURRENCY = 1,
  SCHEMA = { g = { type = "string" }, child = { type = "boolean", default = false } },
  run = function(self)
    if self.child then return 200 end
    if self.flowRound == 0 then self:spawn("grouped", { g = self.g, child = true }); return zerog.WAIT_CHILDREN end
    return #self:children() == 1 and self:children()[1].resultCode == 200 and 201 or 500
  end }
LUA
grouped_parent() {
  flush
  local uuid; uuid=$("$ZEROG" submit grouped '{"g": "acme"}' 2>/dev/null) || return 1
  timeout 20 "$ZEROG" worker --queue grouped_q --until-idle >/dev/null 2>&1
  echo "parent: $(hget "$uuid" resultCode)"
  [ "$(hget "$uuid" resultCode)" = 201 ]
}
ok "a parent of a GROUP type with CONCURRENCY 1 parks, frees its slot for its child, and resumes in its group" grouped_parent

tap_done
