#!/usr/bin/env bash
# Hostile job scripts (spec/hostile/*.lua, see its README): ONE zerog worker on the private Redis
# runs every one of them in turn, each followed by a canary job on the same worker. A case passes
# when the hostile run ends with a recorded error matching its `-- expect:` header and no 2xx
# result, the worker is alive, nothing escaped (no /tmp/zerog_hostile_escaped; a `victim=UUID`
# named in the error is left unfinished); its canary passes when it finishes with 200 having
# found a clean environment (the globals, the string metatable, the zerog module, BaseJob, the
# helper modules, the collector). Every *.lua file of spec/hostile is picked up.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
ESCAPE=/tmp/zerog_hostile_escaped
WORKER_PID=
# stops the worker: SIGTERM, and SIGKILL if a hostile script left it deaf to that for 5 s
stop_worker() {
  [ -n "$WORKER_PID" ] || return 0
  kill -TERM "$WORKER_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$WORKER_PID" 2>/dev/null
  wait "$WORKER_PID" 2>/dev/null
}
trap 'stop_worker; rm -rf "$WORK"' EXIT

cp spec/hostile/*.lua "$JOBS/"
mkdir -p "$JOBS/lib" && cp spec/hostile/lib/*.lua "$JOBS/lib/"
cat >"$JOBS/canary.lua" <<'LUA'
-- The canary: finishes with 200 only in a clean environment; else its error lists what is dirty.
local zerog = require "zerog"
local shared = require "shared"
return { JOB_TYPE = "canary", MAX_ERRORS = 1, run = function(self)
  local dirty = {}
  local function check(what, ok) if not ok then dirty[#dirty + 1] = what end end
  check("global HOSTILE", HOSTILE == nil)
  check("tostring", tostring(12) == "12")
  local n = 0
  for _ in pairs { a = 1, b = 2 } do n = n + 1 end
  check("pairs", n == 2)
  check("ipairs, next, select, type", select("#", ipairs {}) == 3 and next {} == nil and type(1) == "number")
  local ok, e = pcall(error, "boom", 0)
  check("pcall, error", ok == false and e == "boom")
  check("tonumber", tonumber("7") == 7)
  check("string.format", string.format("%d-%s", 3, "x") == "3-x" and string.rep("a", 2) == "aa")
  check("string methods", ("ab"):upper() == "AB" and ("x"):rep(3) == "xxx")
  check("string metatable", type(getmetatable("")) ~= "table")
  local t = {}
  table.insert(t, "a")
  check("table", table.concat(t) == "a" and math.floor(1.5) == 1)
  check("coroutine", coroutine.resume(coroutine.create(function() end)) == true)
  check("setmetatable", getmetatable(setmetatable({}, { __index = {} })) ~= nil)
  check("zerog.sleep", type(zerog.sleep) == "function")
  check("zerog functions", type(zerog.get_job) == "function" and type(zerog.make_job) == "function"
    and zerog.NO_RESULT == -1)
  check("zerog.log", type(zerog.log.info) == "function" and type(zerog.log.error) == "function")
  check("zerog.json", zerog.json.encode { 1.5 } == "[1.5]" and zerog.json.decode('[[[1]]]')[1][1][1] == 1)
  check("zerog.BaseJob", zerog.BaseJob.record_event ~= nil and rawget(zerog.BaseJob, "record_event") == nil)
  check("helper module", shared.dirty == nil and shared.greet("x") == "hello x")
  check("collector", collectgarbage("isrunning") == true)
  check("class", getmetatable(self).TAMPERED == nil)
  check("BaseJob untouched", zerog.BaseJob.TAMPERED == nil)
  self:record_event("canary ran")
  check("record_event", #self.events >= 1)
  if #dirty > 0 then error("dirty environment: " .. table.concat(dirty, ", "), 0) end
  return 200
end }
LUA

flush
rm -f "$ESCAPE"
"$ZEROG" worker >"$WORK/worker.log" 2>&1 & WORKER_PID=$!
alive() { [ -r "/proc/$WORKER_PID/stat" ] && [ "$(cut -d' ' -f3 "/proc/$WORKER_PID/stat")" != Z ]; }

# header FILE NAME: the value of a `-- NAME: value` line at the top of FILE
header() { sed -n "1,20s/^-- $2: //p" "$1" | head -1; }

# dump UUID: the job's document into $WORK/doc (JSON)
dump() { "$ZEROG" dump "$1" >"$WORK/doc" 2>/dev/null; }

# ended UUID CODE: the run ended: finished (with CODE when given), or failed and not running
ended() {
  dump "$1" || return 1
  CODE=$2 lua5.4 -e '
    local d, code = require("cjson").decode(io.read("a")), tonumber(os.getenv("CODE"))
    if code then os.exit(d.resultCode == code and d.running == false) end
    os.exit(d.running == false and (d.resultCode ~= -1 or #d.errors > 0))' <"$WORK/doc"
}

# wait_ended UUID CODE MS: polls until the run ended, for at most MS milliseconds
wait_ended() {
  local deadline=$(($(date +%s%3N) + $3))
  while [ "$(date +%s%3N)" -lt "$deadline" ]; do
    ended "$1" "$2" && return 0
    alive || return 1
    sleep 0.05
  done
  return 1
}

# show: what a failed case prints
show() { echo "document:"; cat "$WORK/doc"; echo; echo "worker log (tail):"; tail -20 "$WORK/worker.log"; }

hostile_case() {
  local file=$1 type expect code ms uuid
  type=$(sed -n "s/.*JOB_TYPE *= *[\"']\([^\"']*\)[\"'].*/\1/p" "$file" | head -1)
  expect=$(header "$file" expect)
  code=$(header "$file" code)
  ms=$(header "$file" timeout-ms)
  [ -n "$type" ] && [ -n "$expect" ] || { echo "$file: needs a JOB_TYPE and an -- expect: line"; return 1; }
  uuid=$("$ZEROG" submit "$type" '{}') || { echo "submit failed"; return 1; }
  wait_ended "$uuid" "$code" "${ms:-15000}" || { echo "the run did not end (worker alive: $(alive && echo yes || echo no))"; show; return 1; }
  alive || { echo "the worker died"; show; return 1; }
  # a run that failed and waits for a retry must not run again meanwhile
  "$ZEROG" kill "$uuid" >/dev/null 2>&1
  EXPECT=$expect lua5.4 -e '
    local d, expect = require("cjson").decode(io.read("a")), os.getenv("EXPECT")
    local last = d.errors[#d.errors]
    if d.resultCode >= 200 and d.resultCode < 300 then print("finished with " .. d.resultCode) os.exit(1) end
    if not last then print("no error recorded") os.exit(1) end
    if not tostring(last.msg):find(expect) then
      print("the recorded error does not match " .. expect .. ": " .. tostring(last.msg)) os.exit(1)
    end
    local victim = tostring(last.msg):match("victim=([%x%-]+)")
    if victim then print(victim) end' <"$WORK/doc" >"$WORK/verdict" || { cat "$WORK/verdict"; show; return 1; }
  [ ! -e "$ESCAPE" ] || { echo "escaped: $ESCAPE was created"; rm -f "$ESCAPE"; return 1; }
  local victim; victim=$(cat "$WORK/verdict")
  if [ -n "$victim" ]; then
    dump "$victim" || { echo "victim $victim is gone"; return 1; }
    json_get 'd.resultCode == -1 and d.running == false and d.completeness < 1' "$WORK/doc" |
      grep -qx true || { echo "victim $victim was changed:"; cat "$WORK/doc"; return 1; }
  fi
}

canary_case() {
  local uuid
  uuid=$("$ZEROG" submit canary '{}') || { echo "submit failed"; return 1; }
  wait_ended "$uuid" 200 15000 || { echo "the canary did not finish with 200"; show; return 1; }
}

for file in spec/hostile/*.lua; do
  name=$(basename "$file" .lua)
  ok "$name: ends with its error recorded, nothing escapes" hostile_case "$file"
  ok "$name: the next job on the same worker finds a clean environment" canary_case
done
stop_worker
WORKER_PID=

# What an operator opens with --sandbox-open (a job type of its own folder and queue).
OPENED=$WORK/opened
mkdir -p "$OPENED"
cat >"$OPENED/uses_os.lua" <<'LUA'
return { JOB_TYPE = "uses_os", QUEUE_NAME = "opened_q", MAX_ERRORS = 1, run = function(self)
  self:record_event("home " .. os.getenv("HOME"))
  return 200
end }
LUA
run_closed() {
  expect_status 1 "$ZEROG" run --json "$OPENED/uses_os.lua" &&
  grep -q "os.getenv is not available to job scripts" "$WORK/err"
}
ok "run: os.getenv is closed by default" run_closed
ok "run --sandbox-open os: the job may use all of os" expect_status 0 "$ZEROG" run --json --sandbox-open os "$OPENED/uses_os.lua"
run_unknown() {
  expect_status 2 "$ZEROG" run --sandbox-open io,net "$OPENED/uses_os.lua" &&
  grep -q 'unknown library "net"' "$WORK/err"
}
ok "run --sandbox-open with an unknown name: exit 2, naming it" run_unknown
worker_opened() {
  local uuid
  uuid=$(ZEROG_JOBS=$OPENED "$ZEROG" submit uses_os '{}') || return 1
  ZEROG_JOBS=$OPENED "$ZEROG" worker --concurrency 2 --until-idle --sandbox-open os >"$WORK/opened.log" 2>&1 ||
    { cat "$WORK/opened.log"; return 1; }
  dump "$uuid" && json_get 'd.resultCode' "$WORK/doc" | grep -qx 200 || { cat "$WORK/doc" "$WORK/opened.log"; return 1; }
}
ok "worker --concurrency 2 --sandbox-open os: its worker processes open it too" worker_opened

tap_done
