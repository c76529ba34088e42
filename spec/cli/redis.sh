# redis.sh: helpers for command tests against the private Redis of spec/run, with a jobs folder
# of their own ($JOBS, exported as ZEROG_JOBS). Source after tap.sh.
REDIS_URL=${ZEROG_SPEC_REDIS:?spec/run starts a Redis and sets ZEROG_SPEC_REDIS}
REDIS_SOCK=${REDIS_URL#unix://}
export ZEROG_STORE=$REDIS_URL
if [ "${REDIS_URL#redis+cluster://}" != "$REDIS_URL" ]; then
  # a cluster (spec/support/cluster.sh): redis-cli follows MOVED (-c); FLUSHALL on every master
  rcli() { redis-cli -c -p "${CLUSTER_PORTS%% *}" "$@"; }
  flush() { for p in $CLUSTER_PORTS; do redis-cli -p "$p" FLUSHALL >/dev/null 2>&1; done; }
  # reval LUA [ARG...]: a script over every master's own keys (KEYS), its numbers added up
  reval() {
    local p sum=0 n
    for p in $CLUSTER_PORTS; do
      # (a node that does not answer in 2 s, stopped by a test, is skipped)
      timeout 2 redis-cli -p "$p" ROLE | head -1 | grep -q master || continue
      n=$(timeout 2 redis-cli -p "$p" EVAL "$1" 0 "${@:2}") && sum=$((sum + n))
    done
    echo "$sum"
  }
  # rcli_all COMMAND...: on every node (CONFIG, INFO)
  rcli_all() { local p; for p in $CLUSTER_PORTS; do redis-cli -p "$p" "$@"; done; }
else
  reval() { rcli EVAL "$1" 0 "${@:2}"; }
  rcli_all() { rcli "$@"; }
  rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
  flush() { rcli FLUSHALL >/dev/null; }
fi
# jkey UUID: the Redis key of a job's document ({zq:QUEUE}:job:UUID, found by its pointer; a
# shard's tag may be extended by its placement, {zq:Q~i~k}: then found by a scan)
jkey() {
  local q; q=$(rcli GET "zerog:job:$1")
  q=${q%%\}*} # ("<queue>}<cas>" once its expiry was set: lua/redis/pointer.lua)
  case $q in
    *~*)
      if [ -n "${CLUSTER_PORTS:-}" ]; then
        local p
        for p in $CLUSTER_PORTS; do redis-cli -p "$p" --scan --pattern "{zq:$q*}:job:$1"; done
      else
        rcli --scan --pattern "{zq:$q*}:job:$1"
      fi | head -1 ;;
    *) echo "{zq:$q}:job:$1" ;;
  esac
}
# hget UUID FIELD: a stored field of a job document (JSON text)
hget() { rcli HGET "$(jkey "$1")" "$2"; }
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds
wait_for() {
  local limit=$(($1 * 10)); shift
  for _ in $(seq "$limit"); do "$@" && return 0; sleep 0.1; done
  return 1
}

JOBS=$WORK/jobs
mkdir -p "$JOBS"
export ZEROG_JOBS=$JOBS

# The echo job type several command tests share: returns 200 and its n as data.
write_echo_job() {
  cat >"$JOBS/echo.lua" <<'LUA'
return { JOB_TYPE = "echo", SCHEMA = { n = { type = "integer", required = true } },
  run = function(self) self:job_log_info("echo " .. self.n); return 200 end,
  get_data = function(self) return { n = self.n } end }
LUA
}

# The slow job type: $JOBS/slow.lua, type "slow" on queue slow_q: logs "started", then takes
# `seconds` (default 3) in 30 steps of completeness, and finishes 200.
write_slow_job() {
  cat >"$JOBS/slow.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "slow", QUEUE_NAME = "slow_q", SCHEMA = { seconds = { type = "number", default = 3 } },
  run = function(self)
    self:job_log_info("started")
    for i = 1, 30 do zerog.sleep(self.seconds / 30); self:set_completeness(i / 30) end
    return 200
  end }
LUA
}
