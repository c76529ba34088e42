# redis.sh: starts a private redis-server on a unix socket with its own data folder, and stops it.
# Source it, then: redis_start DIR (exports ZEROG_SPEC_REDIS) ... redis_stop DIR
redis_start() {
  local dir=$1
  mkdir -p "$dir"
  redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
    --dir "$dir" --save "" --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || return 1
  for _ in $(seq 50); do [ -S "$dir/redis.sock" ] && break; sleep 0.1; done
  [ -S "$dir/redis.sock" ] || { echo "redis-server did not start: $(cat "$dir/redis.log")" >&2; return 1; }
  export ZEROG_SPEC_REDIS="unix://$dir/redis.sock"
}

redis_stop() {
  local dir=$1
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
  for _ in $(seq 50); do [ -f "$dir/redis.pid" ] || break; sleep 0.1; done
}
