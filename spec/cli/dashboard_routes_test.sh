#!/usr/bin/env bash
# The HTTP side of the dashboard: GET / and /ui/<file> (the page compiled into the program, served
# without a token, with its security headers), and the routes the page uses that the API lacked:
# GET /types (the loaded types with their SCHEMA), GET /activity (runs done and failed per minute,
# the latest events), a POST /job validation error that names its field, /workers' host.
# The page in a browser is spec/browser/dashboard_test.sh.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
cat >"$JOBS/form.lua" <<'LUA'
return { JOB_TYPE = "form", QUEUE_NAME = "form_q",
  SCHEMA = { name = { type = "string", required = true }, times = { type = "integer", default = 3 },
             ratio = { type = "number" }, loud = { type = "boolean", default = false },
             tags = { type = "array", default = { "a", "b" } }, opts = { type = "object" }, any = {} },
  run = function() return 200 end }
LUA
cat >"$JOBS/bare.lua" <<'LUA'
return { JOB_TYPE = "bare", run = function() return 200 end }
LUA
cat >"$JOBS/boom.lua" <<'LUA'
return { JOB_TYPE = "boom", QUEUE_NAME = "boom_q", MAX_ERRORS = 1,
  run = function(self) self:raise_error_finish(500, "boom") end }
LUA
. spec/cli/serve.sh
TOKEN=routes-token
auth=(-H "Authorization: Bearer $TOKEN")
body_do() { body_get "(function() $1 end)()"; } # Lua statements ending in a return

flush
start_serve --auth-token "$TOKEN" || { echo "not ok 1 - serve starts"; cat "$WORK/serve.log"; exit 1; }

page_without_token() {
  http GET / && status_is 200 && grep -qi '^Content-Type: text/html; charset=utf-8' "$WORK/headers" &&
  grep -q '<script src="/ui/app.js"></script>' "$WORK/body" &&
  grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'" "$WORK/headers" &&
  grep -qi '^X-Content-Type-Options: nosniff' "$WORK/headers" && grep -qi '^Access-Control-Allow-Origin: \*' "$WORK/headers" &&
  http GET /ui/app.js && status_is 200 && grep -qi '^Content-Type: text/javascript' "$WORK/headers" &&
  cmp -s "$WORK/body" host/cli/web/app.js &&
  http GET /ui/app.css && status_is 200 && grep -qi '^Content-Type: text/css' "$WORK/headers" &&
  cmp -s "$WORK/body" host/cli/web/app.css &&
  http GET /ui/index.html && status_is 200 && cmp -s "$WORK/body" host/cli/web/index.html
}
ok "GET / and /ui/<file> serve the compiled-in page byte for byte without a token, with CSP and nosniff headers" page_without_token

page_errors() {
  http GET /ui/nope.js && status_is 404 && [ "$(body_get d.error)" = "no such file" ] &&
  http GET /ui/../health "" --path-as-is && status_is 404 &&
  http GET /ui && status_is 404 &&
  http POST / '' && status_is 405 && grep -qi '^Allow: GET, HEAD' "$WORK/headers" &&
  http DELETE /ui/app.js && status_is 405
}
ok "an unknown /ui file is 404, /ui/.. serves nothing else, a method other than GET or HEAD is 405" page_errors

api_stays_closed() {
  for route in /types /activity /jobs /stats /workers; do
    http GET "$route" && status_is 401 || return 1
  done
  http GET /types "" -H "Authorization: Bearer wrong" && status_is 401
}
ok "with --auth-token the routes the page calls stay closed without the token (401)" api_stays_closed

types_route() {
  http GET /types "" "${auth[@]}" && status_is 200 &&
  [ "$(body_get '#d')" = 4 ] &&
  [ "$(body_get 'd[1].jobType .. " " .. d[2].jobType .. " " .. d[3].jobType .. " " .. d[4].jobType')" = "bare boom echo form" ] &&
  [ "$(body_get 'd[1].queue .. " " .. #d[1].fields')" = "zerog_jobs 0" ] &&
  [ "$(body_get 'd[4].queue')" = form_q ] &&
  # the fields sorted by name, each with its type, required, and default when it has one
  [ "$(body_do 'local t = {}; for _, f in ipairs(d[4].fields) do t[#t+1] = f.name .. ":" .. f.type .. ":" .. tostring(f.required) end; return table.concat(t, " ")')" = \
    "any:any:false loud:boolean:false name:string:true opts:object:false ratio:number:false tags:array:false times:integer:false" ] &&
  [ "$(body_do 'local f = {}; for _, x in ipairs(d[4].fields) do f[x.name] = x end; return ("%d"):format(f.times.default) .. " " .. tostring(f.loud.default) .. " " .. table.concat(f.tags.default, ",") .. " " .. tostring(f.name.default)')" = "3 false a,b nil" ]
}
ok "GET /types lists the loaded types with their queue and SCHEMA fields (name, type, required, default when set), sorted" types_route

types_follow_reload() {
  cat >"$JOBS/late.lua" <<'LUA'
return { JOB_TYPE = "late", SCHEMA = { x = { type = "integer", required = true } }, run = function() return 200 end }
LUA
  late_listed() { http GET /types "" "${auth[@]}" && grep -q '"jobType":"late"' "$WORK/body"; }
  wait_for 10 late_listed && rm "$JOBS/late.lua" &&
  late_gone() { http GET /types "" "${auth[@]}" && ! grep -q '"jobType":"late"' "$WORK/body"; } && wait_for 10 late_gone
}
ok "GET /types follows the scripts' hot reload (a type added, then removed)" types_follow_reload

field_errors() {
  http POST /job/form '{}' "${auth[@]}" && status_is 400 &&
  [ "$(body_get 'd.field .. "|" .. d.error')" = "name|field name is required" ] &&
  http POST /job/form '{"name": "x", "times": "many"}' "${auth[@]}" && status_is 400 &&
  [ "$(body_get 'd.field')" = times ] && body_get d.error | grep -q '^field times must be an integer' &&
  http POST /job/form '{"name": "x", "nope": 1}' "${auth[@]}" && status_is 400 &&
  [ "$(body_get 'd.field .. "|" .. d.error')" = "nope|unknown field nope: not in the job type's SCHEMA" ] &&
  # an error that names no single field has no "field"
  http POST /job/form '{"name": "x", "nope": 1, "nah": 2}' "${auth[@]}" && status_is 400 && [ "$(body_get 'd.field')" = nil ] &&
  http POST /job/form '[1]' "${auth[@]}" && status_is 400 && [ "$(body_get 'd.field')" = nil ] &&
  http POST /job/nosuch '{}' "${auth[@]}" && status_is 400 && [ "$(body_get 'd.field')" = nil ] &&
  http POST /job/form '{"name": ' "${auth[@]}" && status_is 400 && [ "$(body_get 'd.field')" = nil ] &&
  http GET "/jobs?type=form" "" "${auth[@]}" && status_is 200 && [ "$(body_get '#d.jobs')" = 0 ]
}
ok "POST /job's validation error names its field (required, wrong type, one unknown field) and nothing is stored; other errors have no field" field_errors

activity_counts() {
  http GET /activity "" "${auth[@]}" && status_is 200 && local before; before=$(body_get d.seq) &&
  [ "$(body_get '#d.minutes')" = 60 ] &&
  local u1 u2 u3
  u1=$("$ZEROG" submit echo '{"n": 1}') && u2=$("$ZEROG" submit echo '{"n": 2}') && u3=$("$ZEROG" submit boom) &&
  all_ended() {
    http GET "/activity?after=$before" "" "${auth[@]}" &&
    [ "$(body_do 'local n = 0; for _, e in ipairs(d.events) do if e.event.event == "end" then n = n + 1 end end; return n')" = 3 ]
  } && wait_for 10 all_ended &&
  [ "$(body_do 'local a, b = 0, 0; for _, m in ipairs(d.minutes) do a, b = a + m.done, b + m.failed end; return ("%d %d"):format(a, b)')" = "2 1" ] &&
  # oldest first, a minute apart, the last one now
  [ "$(body_get 'd.minutes[60].at - d.minutes[59].at')" = 60000 ] &&
  [ "$(body_get 'd.minutes[60].at <= os.time() * 1000 and d.minutes[60].at > (os.time() - 61) * 1000')" = true ] &&
  [ "$(body_get '#d.events')" = 6 ] &&
  [ "$(body_get 'd.events[1].seq == '"$before"' + 1 and d.events[6].seq == d.seq')" = true ] &&
  grep -q "\"uuid\":\"$u3\",\"jobType\":\"boom\",\"queue\":\"boom_q\"" "$WORK/body" &&
  [ "$(body_do 'local e; for _, x in ipairs(d.events) do if x.event.uuid == "'"$u3"'" and x.event.event == "end" then e = x.event end end; return e.error and e.outcome == "finished" and e.result == 500')" = true ] &&
  # ?after=<latest> holds no event; the counts stay
  http GET "/activity?after=$(body_get d.seq)" "" "${auth[@]}" && [ "$(body_get '#d.events')" = 0 ] &&
  [ -n "$u1$u2" ]
}
ok "GET /activity counts runs done and failed per minute over the last hour (60 minutes, oldest first) and gives the events after ?after=SEQ" activity_counts

activity_hostile_events() {
  http GET /activity "" "${auth[@]}" && local before; before=$(body_get d.seq) &&
  rcli PUBLISH zerog:events 'not json at all' >/dev/null &&
  rcli PUBLISH zerog:events '{"event":"end","jobType":"<img src=x onerror=alert(1)>\"\\","uuid":"x\u0000y","error":true}' >/dev/null &&
  rcli PUBLISH zerog:events '{"event":"start","jobType":"ok","result":"not a number"}' >/dev/null &&
  two() { http GET "/activity?after=$before" "" "${auth[@]}" && [ "$(body_get '#d.events')" = 2 ]; } && wait_for 5 two &&
  [ "$(body_get 'd.events[1].event.jobType')" = '<img src=x onerror=alert(1)>"\' ] &&
  [ "$(body_get 'd.events[1].event.error')" = true ] && [ "$(body_get 'd.events[2].event.result')" = nil ] &&
  http GET "/activity?after=x1" "" "${auth[@]}" && status_is 400 &&
  http GET "/activity?after=-1" "" "${auth[@]}" && status_is 400
}
ok "GET /activity keeps only job events, as valid JSON whatever was published on the channel; a bad ?after is 400" activity_hostile_events

activity_keeps_latest() {
  http GET /activity "" "${auth[@]}" && local before; before=$(body_get d.seq) &&
  for i in $(seq 130); do echo "PUBLISH zerog:events '{\"event\":\"start\",\"jobType\":\"t$i\"}'"; done | rcli >/dev/null &&
  all() { http GET /activity "" "${auth[@]}" && [ "$(body_get d.seq)" = $((before + 130)) ]; } && wait_for 5 all &&
  [ "$(body_get '#d.events')" = 100 ] && [ "$(body_get 'd.events[100].event.jobType .. " " .. d.events[1].event.jobType')" = "t130 t31" ]
}
ok "GET /activity holds the latest 100 events, oldest first" activity_keeps_latest

workers_host() {
  http GET /workers "" "${auth[@]}" && status_is 200 && [ "$(body_get 'd[1].host')" = "$(hostname)" ]
}
ok "GET /workers names each worker's host" workers_host

cross_origin_with_token() {
  http POST /drain '' "${auth[@]}" -H 'Origin: http://evil.example' && status_is 200 &&
  http POST /undrain '' "${auth[@]}" -H 'Origin: http://evil.example' && status_is 200
}
ok "with --auth-token a request from another origin that carries the token is served (CORS stays open to token holders)" cross_origin_with_token

named_host_with_token() {
  http GET /workers '' "${auth[@]}" -H "Host: zerog.internal.example:$PORT" && status_is 200
}
ok "with --auth-token a request naming the daemon by a DNS name is served (behind a proxy, say)" named_host_with_token

ok "serve stops with exit 0 after these routes (under SAN=1: no leak, no error report)" stop_serve

# Without a token: what a web page of another origin could send to a daemon on localhost.
start_serve || { echo "not ok - serve without a token starts"; cat "$WORK/serve.log"; exit 1; }
cross_origin_refused() {
  local from before
  http GET '/jobs?type=echo&limit=1000' && before=$(body_get '#d.jobs') &&
  for from in 'http://evil.example' 'null' "http://127.0.0.1:$PORT.evil.example" "http://localhost:$PORT"; do
    http POST /job/echo '{"n": 1}' -H "Origin: $from" -H 'Content-Type: text/plain' && status_is 403 &&
    body_get d.error | grep -q -- '--auth-token' || return 1
  done
  http POST /purge '{"state": ["succeeded", "failed"]}' -H 'Origin: http://evil.example' && status_is 403 &&
  http POST /drain '' -H 'Origin: http://evil.example' && status_is 403 &&
  http DELETE "/job/00000000-0000-0000-0000-000000000000" '' -H 'Origin: http://evil.example' && status_is 403 &&
  http GET /jobs '' -H 'Origin: http://evil.example' && status_is 403 &&
  http GET /health '' -H 'Origin: http://evil.example' && status_is 200 &&
  http GET /health && [ "$(body_get 'tostring(d.draining)')" = false ] &&
  http GET '/jobs?type=echo&limit=1000' && [ "$(body_get '#d.jobs')" = "$before" ] &&
  # the page's own origin, https through a proxy that ends TLS, and no Origin (curl) are served
  http POST /job/echo '{"n": 1}' -H "Origin: http://127.0.0.1:$PORT" && status_is 201 &&
  http POST /job/echo '{"n": 2}' -H "Origin: https://127.0.0.1:$PORT" && status_is 201 &&
  http POST /job/echo '{"n": 3}' && status_is 201
}
ok "without --auth-token a POST, DELETE or read from a web page of another origin (Origin header) is refused 403; the page's own origin and programs without Origin are served" cross_origin_refused

dns_rebinding_refused() {
  # a rebinding page is of the daemon's origin: its Origin and Host agree, both its own name
  local name="rebind.example:$PORT"
  http GET /jobs '' -H "Host: $name" && status_is 403 && body_get d.error | grep -q 'rebinding' &&
  http POST /job/echo '{"n": 1}' -H "Host: $name" -H "Origin: http://$name" && status_is 403 &&
  http GET /workers '' -H "Host: localhost.rebind.example:$PORT" && status_is 403 &&
  http GET /health '' -H "Host: $name" && status_is 200 &&
  # by address or localhost: served
  http GET /workers '' -H "Host: localhost:$PORT" && status_is 200 &&
  http GET /workers '' -H "Host: 127.0.0.1:$PORT" && status_is 200 &&
  http GET /workers '' -H "Host: [::1]:$PORT" && status_is 200
}
ok "without --auth-token a request naming the daemon by a DNS name (a DNS-rebinding page) is refused 403; by IP address or localhost it is served" dns_rebinding_refused
ok "serve without a token stops with exit 0" stop_serve
tap_done
