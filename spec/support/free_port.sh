# free_port.sh: free_port LO HI prints a TCP port of 127.0.0.1 in LO..HI that nobody listens on.
# The tests keep to ports below the kernel's ephemeral range (32768 and up, where outgoing
# connections take theirs) and apart: a serve of a test 26000..32000, the Redis Cluster's nodes
# 10000..15999 and their bus ports (+10000) 20000..25999 (spec/support/cluster.sh), a Redis of
# a test's own (worker_test's with ACL users) 16000..19999. A suite under
# the sanitizers (SAN set) takes the upper half of each range and the other the lower, so that CI
# can run both at once.
free_port() {
  local lo=$1 hi=$2 p half=$((($2 - $1 + 1) / 2))
  if [ -n "${SAN:-}" ]; then lo=$((lo + half)); else hi=$((lo + half - 1)); fi
  for _ in $(seq 200); do
    p=$((lo + RANDOM % (hi - lo + 1)))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
