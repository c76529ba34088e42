#!/usr/bin/env bash
# RATE, CONCURRENCY and GROUP with real worker processes on one Redis: CONCURRENCY = 2 with 4
# workers never has more than 2 jobs running (sampled from the queue's reserved set); RATE = 5
# per second with 3 workers never starts more than 5 in any second (start times the jobs log);
# a lone job of group B behind 1,000 of group A is among the first 2 a worker starts; a worker
# killed -9 while running a CONCURRENCY = 1 job holds no slot once its lease lapses: the next
# job runs. A bad declaration is a load error naming the field.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh

# The starts a job logged ("start" events), as ms since the epoch, sorted, one a line.
start_times() {
  for u in $("$ZEROG" list --queue "$1" --limit 1000 --json | grep -o '"uuid":"[^"]*"' | cut -d'"' -f4); do
    "$ZEROG" info "$u"
  done | grep -o '"msg":"start","timeStamp":"[^"]*"' | cut -d'"' -f8 |
    lua5.4 -e 'for l in io.lines() do
      local Y, M, D, h, m, s, ms = l:match("(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.(%d+)")
      print(((tonumber(D) * 24 + h) * 60 + m) * 60000 + s * 1000 + ms) end' | sort -n
}
# The most lines of stdin (sorted ms) within any window of $1 ms.
most_in_window() {
  lua5.4 -e "local w, t, most, j = $1, {}, 0, 1
    for l in io.lines() do t[#t + 1] = tonumber(l) end
    for i = 1, #t do while t[i] - t[j] >= w do j = j + 1 end most = math.max(most, i - j + 1) end
    print(most)"
}
# waits until every job of queue $1 has finished (none ready, delayed or reserved)
all_done() { "$ZEROG" stats --queue "$1" | grep -q '"ready":0,"delayed":0,"reserved":0,'; }
stop_workers() { for p in "$@"; do kill "$p" 2>/dev/null; done; wait "$@" 2>/dev/null; }

cat >"$JOBS/two_at_once.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "two_at_once", QUEUE_NAME = "conc_q", CONCURRENCY = 2,
  run = function(self) zerog.sleep(0.1); return 200 end }
LUA
concurrency_across_workers() {
  flush
  for _ in $(seq 20); do "$ZEROG" submit two_at_once >/dev/null || return 1; done
  local pids=() most=0 n
  for _ in 1 2 3 4; do "$ZEROG" worker --queue conc_q 2>/dev/null & pids+=($!); done
  for _ in $(seq 300); do # sampled every 20 ms until all ran (at most 6 s)
    n=$(rcli ZCARD "{zq:conc_q}:reserved")
    [ "$n" -gt "$most" ] && most=$n
    all_done conc_q && break
    sleep 0.02
  done
  stop_workers "${pids[@]}"
  all_done conc_q && [ "$most" -le 2 ] && [ "$most" -ge 1 ] || { echo "at most $most running"; return 1; }
  "$ZEROG" stats --queue conc_q | grep -q '"reserved":0'
}
ok "CONCURRENCY = 2 with 4 worker processes and 20 jobs: never more than 2 running at once" concurrency_across_workers

cat >"$JOBS/five_a_second.lua" <<'LUA'
return { JOB_TYPE = "five_a_second", QUEUE_NAME = "rate_q", RATE = { limit = 5, per = 1 },
  run = function(self) self:job_log_info("start"); return 200 end }
LUA
rate_across_workers() {
  flush
  for _ in $(seq 15); do "$ZEROG" submit five_a_second >/dev/null || return 1; done
  local pids=() began=$SECONDS
  for _ in 1 2 3; do "$ZEROG" worker --queue rate_q 2>/dev/null & pids+=($!); done
  wait_for 10 all_done rate_q; local done_rc=$?
  stop_workers "${pids[@]}"
  [ $done_rc -eq 0 ] || { echo "not all ran"; return 1; }
  start_times rate_q >"$WORK/starts"
  local n most
  n=$(wc -l <"$WORK/starts")
  # (less than the second: the host stamps the start after the claim the server counted)
  most=$(most_in_window 900 <"$WORK/starts")
  [ "$n" -eq 15 ] && [ "$most" -le 5 ] && [ $((SECONDS - began)) -ge 2 ] ||
    { echo "$n starts, at most $most in a second"; cat "$WORK/starts"; return 1; }
}
ok "RATE = 5 per second with 3 worker processes: at most 5 starts in any second" rate_across_workers

cat >"$JOBS/per_customer.lua" <<'LUA'
return { JOB_TYPE = "per_customer", QUEUE_NAME = "fair_q", GROUP = "customer",
  SCHEMA = { customer = { type = "string" } },
  run = function(self) return 200 end }
LUA
lone_group_is_served_next() {
  flush
  for _ in $(seq 1000); do echo '{"customer": "A"}'; done >"$WORK/batch"
  "$ZEROG" submit per_customer --batch "$WORK/batch" >/dev/null || return 1
  local b; b=$("$ZEROG" submit per_customer '{"customer": "B"}') || return 1
  expect_status 0 "$ZEROG" worker --queue fair_q --concurrency 1 --max-jobs 2 || return 1
  [ "$(hget "$b" resultCode)" = 200 ] || { echo "B did not run among the first 2"; return 1; }
  "$ZEROG" stats --queue fair_q | grep -q '"ready":999,'
}
ok "GROUP: a lone job of group B behind 1,000 of group A is among the first 2 started" lone_group_is_served_next

cat >"$JOBS/one_at_a_time.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "one_at_a_time", QUEUE_NAME = "solo_q", CONCURRENCY = 1, TTR = 1,
  SCHEMA = { hang = { type = "boolean" } },
  run = function(self) if self.hang then zerog.sleep(60) end; return 200 end }
LUA
running_one() { [ "$(rcli ZCARD "{zq:solo_q}:reserved")" = 1 ]; }
killed_worker_frees_its_slot() {
  flush
  "$ZEROG" submit one_at_a_time '{"hang": true}' --priority 2000 >/dev/null || return 1
  "$ZEROG" worker --queue solo_q 2>/dev/null & local first=$!
  wait_for 10 running_one || { stop_workers $first; echo "the hanging job never ran"; return 1; }
  kill -9 $first; wait $first 2>/dev/null
  local next; next=$("$ZEROG" submit one_at_a_time '{"hang": false}') || return 1
  "$ZEROG" worker --queue solo_q 2>/dev/null & local second=$!
  next_done() { [ "$(hget "$next" resultCode)" = 200 ]; }
  wait_for 10 next_done; local rc=$?
  kill -9 $second; wait $second 2>/dev/null # (it may run the hanging job again by now)
  [ $rc -eq 0 ] || { echo "the next job did not run once the dead worker's lease lapsed"; return 1; }
}
ok "a worker killed -9 running a CONCURRENCY = 1 job frees the slot when its lease lapses" killed_worker_frees_its_slot

bad_declarations() {
  local field
  for decl in 'CONCURRENCY = 0' 'CONCURRENCY = { limit = 2, scope = "world" }' 'RATE = 5' \
              'RATE = { limit = 5, per = 0 }' 'GROUP = "nope"'; do
    field=${decl%% *}
    printf 'return { JOB_TYPE = "bad", %s, SCHEMA = { a = { type = "string" } }, run = function() return 200 end }\n' \
      "$decl" >"$WORK/bad.lua"
    expect_status 2 "$ZEROG" check "$WORK/bad.lua" || expect_status 1 "$ZEROG" check "$WORK/bad.lua" || return 1
    grep -q "$field" "$WORK/out" "$WORK/err" || { echo "$decl: no $field in the error"; return 1; }
  done
}
ok "a bad RATE, CONCURRENCY or GROUP is a load error naming the field" bad_declarations
tap_done
