#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium, headless, driven by puppeteer-core (the
# version pinned in spec/browser/package-lock.json, installed into build/browser by `npm ci`; it
# downloads no browser). Starts a private Redis (or uses spec/run's) and a `zerog serve` with an
# auth token and a jobs folder holding a slow progressing type, a flaky one (fails its first run),
# a long one (to kill), one with a required SCHEMA field and one whose event holds HTML, then runs
# spec/browser/dashboard.js, which speaks TAP. Screenshots go to build/screens/.
# Where chromium, node or the npm packages are missing, it prints "1..0 # SKIP <why>" (spec/run
# counts that as skipped, not passed).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${ZEROG_BUILD:-build}
ZEROG=${ZEROG_BIN:-$BUILD/zerog}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
skip() { echo "1..0 # SKIP $*"; exit 0; }

[ -x "$CHROMIUM" ] || skip "no chromium at $CHROMIUM (deps/install browser installs Debian's)"
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are not installed (deps/install browser)"
# puppeteer-core, as pinned, into the build's browser/ (again only when the lock file changed;
# one per build, so that the suite and the sanitizers' suite can run at once)
MODULES=${ZEROG_BUILD:-build}/browser
if ! cmp -s spec/browser/package-lock.json "$MODULES/package-lock.json" || [ ! -d "$MODULES/node_modules/puppeteer-core" ]; then
  mkdir -p "$MODULES" && cp spec/browser/package.json spec/browser/package-lock.json "$MODULES/" &&
    (cd "$MODULES" && npm ci --ignore-scripts --no-audit --no-fund >npm.log 2>&1) ||
    skip "npm ci of puppeteer-core failed (no registry?): $(tail -1 "$MODULES/npm.log" 2>/dev/null)"
fi
probe=$(timeout 30 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --dump-dom about:blank 2>&1 >/dev/null) ||
  skip "$CHROMIUM --headless=new cannot start here (exit $?): $(printf '%s' "$probe" | tail -1)"

WORK=$(mktemp -d)
. spec/support/redis.sh
OWN_REDIS=
if [ -z "${ZEROG_SPEC_REDIS:-}" ]; then
  OWN_REDIS=$WORK/redis
  redis_start "$OWN_REDIS" || exit 1
fi
REDIS_SOCK=${ZEROG_SPEC_REDIS#unix://}
. spec/support/free_port.sh
PORT=$(free_port 26000 32000)
SERVE_PID=
NODE_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill -TERM "$NODE_PID" 2>/dev/null
  [ -s "$WORK/hold.pid" ] && kill -TERM "$(cat "$WORK/hold.pid")" 2>/dev/null
  [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID"
  [ -n "$OWN_REDIS" ] && redis_stop "$OWN_REDIS"
  rm -rf "$WORK"
}
trap cleanup EXIT
export ZEROG_STORE=$ZEROG_SPEC_REDIS
redis-cli -s "$REDIS_SOCK" FLUSHALL >/dev/null

JOBS=$WORK/jobs
mkdir -p "$JOBS"
cat >"$JOBS/slow.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "slow", QUEUE_NAME = "slow_q", SCHEMA = { steps = { type = "integer", default = 12 } },
  run = function(self)
    for _ = 1, self.steps do zerog.sleep(0.25); self:add_to_completeness(1 / self.steps) end
    return 200
  end }
LUA
cat >"$JOBS/flaky.lua" <<'LUA'
return { JOB_TYPE = "flaky", QUEUE_NAME = "flaky_q", MAX_ERRORS = 1,
  run = function(self)
    if self.errorCount == 0 then self:raise_error_finish(500, "disk full: cannot write /var/spool/flaky") end
    self:set_completeness(1)
    return 200
  end }
LUA
cat >"$JOBS/long.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "long", QUEUE_NAME = "long_q",
  run = function(self)
    for _ = 1, 600 do zerog.sleep(0.1); self:add_to_completeness(0.001) end
    return 200
  end }
LUA
cat >"$JOBS/greet.lua" <<'LUA'
return { JOB_TYPE = "greet", QUEUE_NAME = "greet_q",
  SCHEMA = { name = { type = "string", required = true }, times = { type = "integer", default = 3 },
             loud = { type = "boolean" }, tags = { type = "array", default = { "a" } } },
  run = function(self) return 200 end,
  get_data = function(self) return { greeting = ("hello %s"):format(self.name):rep(self.times, " ") } end }
LUA
cat >"$JOBS/html.lua" <<'LUA'
return { JOB_TYPE = "html", QUEUE_NAME = "html_q",
  run = function(self)
    self:record_event('<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">')
    self:record_warning('<b>bold?</b> & <i onmouseover="window.__xss = 3">')
    return 200
  end }
LUA
cat >"$JOBS/fan.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "fan", QUEUE_NAME = "fan_q",
  run = function(self)
    if self.flowRound == 0 then
      self:spawn("long", {}, { on_failure = "ignore" })
      return zerog.WAIT_CHILDREN
    end
    return 200
  end }
LUA
cat >"$JOBS/many.lua" <<'LUA'
return { JOB_TYPE = "many", QUEUE_NAME = "many_q",
  run = function(self)
    for i = 1, 20000 do self:record_event("event " .. i) end
    return 200
  end }
LUA
# The first-paint phase's types, in a folder of their own: parked (no worker runs it: its jobs
# stay waiting) and hold (50 run at once under a `zerog worker --concurrency 50` dashboard.js
# starts, which records its pid in $WORK/hold.pid for the cleanup).
PARKED=$WORK/parked
mkdir -p "$PARKED"
cat >"$PARKED/parked.lua" <<'LUA'
return { JOB_TYPE = "parked", QUEUE_NAME = "parked_q", SCHEMA = { n = { type = "integer" } },
  run = function() return 200 end }
LUA
cat >"$PARKED/hold.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "hold", QUEUE_NAME = "hold_q",
  run = function(self)
    for _ = 1, 600 do zerog.sleep(0.1); self:add_to_completeness(0.001) end
    return 200
  end }
LUA

TOKEN=dash-$RANDOM$RANDOM
ZEROG_JOBS=$JOBS "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 3 --threads 2 --auth-token "$TOKEN" \
  >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done

mkdir -p build/screens
NODE_PATH=$MODULES/node_modules ZEROG_URL="http://127.0.0.1:$PORT" ZEROG_TOKEN=$TOKEN ZEROG="$ZEROG" \
  PARKED_JOBS=$PARKED REDIS_SOCK=$REDIS_SOCK HOLD_PID_FILE="$WORK/hold.pid" CHROMIUM=$CHROMIUM SCREENS=build/screens \
  node spec/browser/dashboard.js &
NODE_PID=$!
wait $NODE_PID
status=$?
NODE_PID=
if [ $status -ne 0 ]; then echo "# serve's log:"; tail -20 "$WORK/serve.log" | sed 's/^/#   /'; fi
exit $status
