# cluster.sh: starts a private Redis Cluster of local redis-server processes (3 masters and, by
# default, 3 replicas) on free TCP ports of 127.0.0.1, each with its own folder, and stops it.
# Source it, then: cluster_start DIR [REPLICAS] (exports ZEROG_SPEC_CLUSTER, a
# redis+cluster:// URL, and CLUSTER_PORTS) ... cluster_stop DIR
# The node timeout is short (1 s) so that a failover in a test takes a couple of seconds.

# cluster_free_port: a TCP port nobody listens on, whose cluster bus port (+10000) is free too:
# 10000..15999 and 20000..25999 (the upper half under the sanitizers, SAN set, so that CI can run
# both suites at once), below the kernel's ephemeral range (32768 and up, which outgoing
# connections take from) and apart from the ports tests' daemons take (spec/support/free_port.sh)
cluster_free_port() {
  local p base=10000
  [ -z "${SAN:-}" ] || base=13000
  for _ in $(seq 200); do
    p=$((base + RANDOM % 3000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null &&
       ! (exec 3<>/dev/tcp/127.0.0.1/$((p + 10000))) 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

cluster_start() {
  local dir=$1 replicas=${2:-1} n ports=() p
  n=$((3 * (replicas + 1)))
  mkdir -p "$dir"
  for i in $(seq "$n"); do
    local started=""
    for _ in 1 2 3 4 5; do # a port taken between the probe and the bind: another one
      p=$(cluster_free_port) || return 1
      mkdir -p "$dir/$p"
      redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 1000 \
        --dir "$dir/$p" --save "" --appendonly no --repl-diskless-sync-delay 0 --daemonize yes \
        --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" || continue
      for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && started=1 && break; sleep 0.1; done
      [ -n "$started" ] && break
      rm -rf "${dir:?}/$p"
    done
    [ -n "$started" ] || { echo "cluster: a redis-server did not start" >&2; cluster_stop "$dir"; return 1; }
    ports+=("$p")
    echo "${ports[@]}" >"$dir/ports"
  done
  local addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes \
    >"$dir/create.log" 2>&1 || { cat "$dir/create.log" >&2; return 1; }
  # ready when every node agrees the cluster is ok and knows all the nodes, and every replica
  # has its master's data (a replica that never synced refuses to take over: "Disconnected from
  # master for longer than allowed")
  for _ in $(seq 100); do
    local ok=1
    for p in "${ports[@]}"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
      [ "$(redis-cli -p "$p" cluster nodes 2>/dev/null | wc -l)" -eq "$n" ] || ok=0
      redis-cli -p "$p" info replication 2>/dev/null | grep -q 'master_link_status:down' && ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  echo "${ports[@]}" >"$dir/ports"
  export CLUSTER_PORTS="${ports[*]}"
  export ZEROG_SPEC_CLUSTER="redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}"
}

cluster_stop() {
  local dir=$1 p
  [ -f "$dir/ports" ] || return 0
  for p in $(cat "$dir/ports"); do
    [ -f "$dir/$p/redis.pid" ] && kill "$(cat "$dir/$p/redis.pid")" 2>/dev/null
  done
  for p in $(cat "$dir/ports"); do
    for _ in $(seq 50); do [ -f "$dir/$p/redis.pid" ] || break; sleep 0.1; done
  done
}
