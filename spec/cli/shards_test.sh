#!/usr/bin/env bash
# Sharded queues from the outside, on Redis (or the cluster of spec/run's cluster pass): a type with
# SHARDS = 3 puts its jobs on hot~0..hot~2; `zerog stats`, `stats --by-type`, `list` and `kick`
# with --queue hot act on every shard and hot~1 names one; every job runs once; a type that
# declares another SHARDS than the store records is refused at submit and at worker start (exit
# 1, the reason said), even on an empty queue, `zerog shards` changes the count while the queue
# is empty, and of two hosts that declare different counts at once one is refused; buried and
# kick cover every shard; a parent's children on a sharded queue (flows) and a REPEAT of a
# sharded type (its jobs made in the shard of its schedule) work; an ad hoc schedule records or
# checks the shard count as a submit does.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
cat >"$JOBS/hot.lua" <<'LUA'
return { JOB_TYPE = "hot", QUEUE_NAME = "hot", SHARDS = 3, SCHEMA = { n = { type = "integer" } },
  run = function(self) return 200 end }
LUA
printf '{"n":%d}\n' 1 2 3 4 5 6 >"$WORK/six"

stats_list_kick() {
  flush
  expect_status 0 "$ZEROG" submit hot --batch "$WORK/six" --delay 3600 || return 1
  [ "$(wc -l <"$WORK/out")" -eq 6 ] || return 1
  "$ZEROG" stats --queue hot | grep -q '"hot":{"ready":0,"delayed":6,' || return 1
  "$ZEROG" stats --queue hot~1 | grep -q '"hot~1":{"ready":0,"delayed":2,' || return 1
  "$ZEROG" stats --by-type --queue hot | grep -q '"hot":{"hot":{"waiting":0,"delayed":6,' || return 1
  [ "$("$ZEROG" list --queue hot --json | wc -l)" -eq 6 ] || return 1
  [ "$("$ZEROG" list --queue hot~2 --json | grep -c '"queue":"hot~2"')" -eq 2 ] || return 1
  expect_status 0 "$ZEROG" kick hot && grep -q "kicked 6" "$WORK/out" &&
  "$ZEROG" stats --queue hot | grep -q '"hot":{"ready":6,"delayed":0,'
}
ok "stats, stats --by-type, list and kick of a sharded queue cover its 3 shards; hot~1 names one" stats_list_kick

runs_once() {
  "$ZEROG" worker --until-idle >"$WORK/worker.log" 2>&1 || return 1
  [ "$(grep -c 'finished with 200' "$WORK/worker.log")" -eq 6 ] &&
  "$ZEROG" stats --by-type --queue hot | grep -q '"waiting":0,"delayed":0,"running":0,"succeeded":6,'
}
ok "a worker runs every job of the 3 shards once" runs_once

mismatch() {
  flush
  "$ZEROG" submit hot '{"n": 1}' >/dev/null || return 1
  local other=$WORK/other
  mkdir -p "$other"
  sed 's/SHARDS = 3/SHARDS = 2/' "$JOBS/hot.lua" >"$other/hot.lua"
  expect_status 2 env ZEROG_JOBS="$other" "$ZEROG" submit hot '{"n": 2}' &&
  grep -q 'queue hot has 3 shards in the store, not the SHARDS = 2 declared' "$WORK/err" || return 1
  expect_status 1 env ZEROG_JOBS="$other" timeout 20 "$ZEROG" worker --until-idle &&
  grep -q 'queue hot has 3 shards in the store, not the SHARDS = 2 declared' "$WORK/err" || return 1
  # `zerog shards` changes the count only while the queue is empty; emptied, a host with the
  # old count is refused too (it would put jobs where the others do not look), and `zerog
  # shards hot 2` changes it
  expect_status 2 "$ZEROG" shards hot 2 && grep -q 'queue hot holds 1 job' "$WORK/err" || return 1
  "$ZEROG" worker --until-idle >/dev/null 2>&1 &&
  "$ZEROG" purge --state succeeded --queue hot >/dev/null || return 1
  expect_status 2 env ZEROG_JOBS="$other" "$ZEROG" submit hot '{"n": 3}' &&
  grep -q 'run `zerog shards hot 2`' "$WORK/err" || return 1
  expect_status 0 "$ZEROG" shards hot 2 && grep -q '{"queue":"hot","shards":2}' "$WORK/out" &&
  expect_status 0 env ZEROG_JOBS="$other" "$ZEROG" submit hot '{"n": 3}' &&
  "$ZEROG" stats --queue hot~1 | grep -q '"ready":[01],' &&
  [ "$(env ZEROG_JOBS="$other" "$ZEROG" list --queue hot --json | wc -l)" -eq 1 ] &&
  expect_status 2 "$ZEROG" submit hot '{"n": 4}' # (the type at SHARDS = 3 now refused)
}
ok "a SHARDS other than the store's is refused at submit and worker start; zerog shards changes it while the queue is empty" mismatch

# two hosts that declare different SHARDS for a new queue at the same moment: the first records
# its count, the other is refused, and no job goes where the recorded count does not look
# (before, both could pass the check and one's jobs were missing from stats and claims)
at_once() {
  local two=$WORK/two trial a b
  mkdir -p "$two"
  sed 's/SHARDS = 3/SHARDS = 2/' "$JOBS/hot.lua" >"$two/hot.lua"
  for trial in $(seq 12); do
    flush
    "$ZEROG" submit hot '{"n": 1}' >/dev/null 2>&1 &
    a=$!
    env ZEROG_JOBS="$two" "$ZEROG" submit hot '{"n": 2}' >/dev/null 2>&1 &
    b=$!
    local sa=0 sb=0
    wait "$a" || sa=$?
    wait "$b" || sb=$?
    # exactly one submit passed, and its job is where the recorded count looks
    [ $((sa == 0 ? 1 : 0)) -ne $((sb == 0 ? 1 : 0)) ] || { echo "trial $trial: exits $sa $sb"; return 1; }
    "$ZEROG" stats --by-type --queue hot | grep -q '"waiting":1,' ||
      { echo "trial $trial: $("$ZEROG" stats --by-type --queue hot)"; return 1; }
  done
}
ok "two hosts declaring different SHARDS at once: one is refused, the other's job is counted" at_once

buried_on_shards() {
  flush
  expect_status 0 "$ZEROG" submit hot --batch "$WORK/six" || return 1
  local u key corrupt=0
  for u in $(head -2 "$WORK/out"); do # round robin: two jobs on two different shards
    key=$(jkey "$u")
    [ -n "$key" ] && rcli HSET "$key" jobType '"renamed_by_hand"' >/dev/null && corrupt=$((corrupt + 1))
  done
  [ "$corrupt" = 2 ] || return 1
  for _ in 1 2 3 4; do
    "$ZEROG" kick hot >/dev/null 2>&1 # (the retry delay, now)
    "$ZEROG" worker --until-idle 2>>"$WORK/buried.log" || return 1
  done
  expect_status 0 "$ZEROG" buried hot || return 1
  [ "$(grep -c '"uuid"' "$WORK/out")" = 2 ] || { cat "$WORK/out"; return 1; }
  "$ZEROG" stats --queue hot | grep -q '"hot":{"ready":0,"delayed":0,"reserved":0,"buried":2' || return 1
  expect_status 0 "$ZEROG" kick hot && grep -q "kicked 2" "$WORK/out" &&
  "$ZEROG" stats --queue hot | grep -q '"hot":{"ready":2,"delayed":0,"reserved":0,"buried":0'
}
ok "buried and kick of a sharded queue list and put back the buried jobs of every shard" buried_on_shards

cat >"$JOBS/part.lua" <<'LUA'
return { JOB_TYPE = "part", QUEUE_NAME = "parts", SHARDS = 3, SCHEMA = { n = { type = "integer" } },
  run = function(self) return 200 end }
LUA
cat >"$JOBS/whole.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "whole", QUEUE_NAME = "wholes", SCHEMA = { ends = { type = "string" } },
  run = function(self)
    if self.flowRound == 0 then
      for n = 1, 3 do self:spawn("part", { n = n }) end
      return zerog.WAIT_CHILDREN
    end
    local codes = {}
    for _, c in ipairs(self:children()) do codes[#codes + 1] = tostring(c.resultCode) end
    table.sort(codes)
    self:update_attrs { ends = table.concat(codes, ",") }
    return 200
  end }
LUA

children_on_shards() {
  flush
  local parent
  parent=$("$ZEROG" submit whole '{}') || return 1
  "$ZEROG" worker --until-idle >/dev/null 2>&1 || return 1
  wait_for 10 sh -c "'$ZEROG' dump '$parent' | grep -q '\"ends\":\"200,200,200\"'" || return 1
  # the children were spread over the shards of parts
  local shards
  shards=$("$ZEROG" list --queue parts --json | grep -o '"queue":"[^"]*"' | sort -u | wc -l)
  [ "$shards" -ge 2 ]
}
ok "a parent's children on a sharded queue end and the parent resumes with their ends (flows)" children_on_shards

cat >"$JOBS/tick.lua" <<'LUA'
return { JOB_TYPE = "tick", QUEUE_NAME = "ticks", SHARDS = 3, REPEAT = { every = 1 },
  run = function(self) return 200 end }
LUA

repeat_on_a_shard() {
  flush
  timeout 20 "$ZEROG" worker >"$WORK/ticks.log" 2>&1 &
  local pid=$!
  wait_for 10 sh -c "'$ZEROG' stats --by-type --queue ticks | grep -q '\"succeeded\":[2-9]'"
  local got=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ $got -eq 0 ] || { cat "$WORK/ticks.log"; return 1; }
  # every tick's job in the one shard that holds the schedule
  local queues
  queues=$("$ZEROG" list --queue ticks --json | grep -o '"queue":"[^"]*"' | sort -u | wc -l)
  [ "$queues" -eq 1 ] && "$ZEROG" schedules | grep -q '"queue":"ticks~'
}
ok "a REPEAT of a sharded type fires, its jobs in the shard of its schedule" repeat_on_a_shard

schedule_first() {
  flush # (no host has recorded the shard count of hot yet)
  local p
  for p in 1 2 3 4 5 6; do "$ZEROG" schedule hot @every:1 "{\"n\":$p}" >/dev/null || return 1; done
  [ "$("$ZEROG" schedules | grep -c '"queue":"hot~')" = 6 ] || { "$ZEROG" schedules; return 1; }
  timeout 20 "$ZEROG" worker >"$WORK/adhoc.log" 2>&1 &
  local pid=$!
  wait_for 10 sh -c "'$ZEROG' stats --by-type --queue hot | grep -q '\"succeeded\":\([6-9]\|[1-9][0-9]\)'"
  local got=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ $got -eq 0 ] || { cat "$WORK/adhoc.log"; "$ZEROG" stats --by-type; return 1; }
  # a host whose SHARDS differs is refused, as at submit
  local other=$WORK/other1
  mkdir -p "$other"
  sed 's/SHARDS = 3/SHARDS = 1/' "$JOBS/hot.lua" >"$other/hot.lua"
  expect_status 2 env ZEROG_JOBS="$other" "$ZEROG" schedule hot @every:1 '{"n": 9}' &&
  grep -q 'queue hot has 3 shards in the store, not the SHARDS = 1 declared' "$WORK/err"
}
ok "an ad hoc schedule of a sharded type made before any host recorded the count fires; a host of another SHARDS is refused" schedule_first

tap_done
