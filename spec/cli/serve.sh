# serve.sh: a `zerog serve` of the test's own on a random port, and an HTTP client for it. Source
# after tap.sh and redis.sh. start_serve [OPTIONS...] (SERVE_WORKERS worker processes, default 2)
# waits until it answers; stop_serve ends it (SIGTERM) with its exit status; the EXIT trap stops
# it and removes $WORK.
#   http METHOD PATH [BODY] [curl options...]: status in $WORK/status, body in $WORK/body,
#   headers in $WORK/headers; status_is CODE; body_get LUA_EXPR (over the decoded body d)
. spec/support/free_port.sh
PORT=$(free_port 26000 32000)
URL=http://127.0.0.1:$PORT
SERVE_PID=
start_serve() {
  "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers "${SERVE_WORKERS:-2}" "$@" >"$WORK/serve.log" 2>&1 &
  SERVE_PID=$!
  up() { curl -s -o /dev/null "$URL/health"; }
  wait_for 10 up
}
stop_serve() {
  [ -n "$SERVE_PID" ] || return 0
  kill -TERM "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID"; local rc=$?
  SERVE_PID=
  return $rc
}
trap 'stop_serve; rm -rf "$WORK"' EXIT
http() {
  local method=$1 path=$2 body=${3:-}; shift 3 2>/dev/null || shift $#
  curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" ${body:+--data "$body"} "$@" "$URL$path" >"$WORK/status"
}
status_is() { [ "$(cat "$WORK/status")" = "$1" ] || { echo "status $(cat "$WORK/status"), expected $1: $(cat "$WORK/body")"; return 1; }; }
body_get() { json_get "$1" "$WORK/body"; }
