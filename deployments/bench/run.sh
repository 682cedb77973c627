#!/usr/bin/env bash
# The side-by-side benchmark (issue 5): the same scenarios, with the same load generator, against the Node
# reference (node-reference/) and against our edge, in one run; the server pinned to BENCH_SERVER_CPUS and
# the load generator to BENCH_LOADGEN_CPUS with taskset; then one table with a ratio column.
#
#   deployments/bench/run.sh                     small scale (≤ 2,000 connections, a few seconds per step)
#   BENCH_SCALE=full deployments/bench/run.sh    the issue's figures (19,000 idle connections, 5,000 subscribers,
#                                                and the 100k step)
#   BENCH_100K=only …                            only the 100k step (BENCH_100K=1 adds it at small scale)
#
# Steps: idle and fanout against the Node reference and our edge in embedded mode; idle against our edge in
# distributed mode (BENCH_DIST=0 skips it: one edge of stack.sh on the project's brokers, only the edge's PID
# sampled); e2e (BENCH_E2E=0 skips it, node: only its Node half): two Node instances sharing Redis and our
# stack with two edges, clients spread over them; 100k (BENCH_100K): SCALE_CONNS idle connections over
# SCALE_EDGES edges of one stack sharing one Kafka and one Redis.
#
# The distributed steps start the brokers with deployments/brokers.sh (KAFKA_PORT, KAFKA_CONTROLLER_PORT,
# REDIS_PORT, RUN_DIR as there; Kafka's heap BENCH_KAFKA_HEAP) unless they are running already, and
# deployments/stack.sh without nginx, edges on BENCH_STACK_PORT (4101), +1, …
#
# Every setting below can be given in the environment. Output (tables, JSON summaries, server logs) goes to
# BENCH_OUT (default .run/bench/<UTC time>/). Every process this script starts is stopped by its PID on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

scale="${BENCH_SCALE:-small}"
case "$scale" in
small)
  : "${IDLE_CONNS:=2000}" "${IDLE_ROOMS:=20}" "${IDLE_HOLD:=10s}"
  : "${FAN_SUBS:=1000}" "${FAN_ROOMS:=1}" "${FAN_PUBS:=2}" "${FAN_RATES:=10,20,50,100}" "${FAN_STEP:=4s}"
  : "${E2E_SUBS:=1000}" "${E2E_RATES:=20}" "${E2E_STEP:=5s}"
  : "${SCALE_EDGES:=3}" "${SCALE_CONNS:=6000}" "${SCALE_ROOMS:=30}" "${SCALE_HOLD:=10s}" "${BENCH_100K:=0}"
  ;;
full)
  : "${IDLE_CONNS:=19000}" "${IDLE_ROOMS:=100}" "${IDLE_HOLD:=30s}"
  : "${FAN_SUBS:=5000}" "${FAN_ROOMS:=1}" "${FAN_PUBS:=10}" "${FAN_RATES:=2,4,6,10,15,20,30,40,50,60}" "${FAN_STEP:=10s}"
  : "${E2E_SUBS:=5000}" "${E2E_RATES:=20}" "${E2E_STEP:=20s}"
  : "${SCALE_EDGES:=6}" "${SCALE_CONNS:=100000}" "${SCALE_ROOMS:=100}" "${SCALE_HOLD:=60s}" "${BENCH_100K:=1}"
  ;;
*) echo "BENCH_SCALE must be small or full" >&2; exit 2 ;;
esac
server_cpus="${BENCH_SERVER_CPUS:-0}"
loadgen_cpus="${BENCH_LOADGEN_CPUS:-1}"
go_port="${BENCH_GO_PORT:-4310}"
node_port="${BENCH_NODE_PORT:-4320}" # e2e: node_port+1 and node_port+2
stack_port="${BENCH_STACK_PORT:-4101}" # distributed steps: the stack's edges on stack_port, +1, …
kafka_heap="${BENCH_KAFKA_HEAP:--Xms1g -Xmx1g}"
dist="${BENCH_DIST:-1}"
e2e="${BENCH_E2E:-1}" # 1: both; node: only the Node half; 0: none
only_scale=0
if [[ "$BENCH_100K" == only ]]; then only_scale=1 dist=0 e2e=0; fi
redis_prefix="${BENCH_REDIS_PREFIX:-bench-node-reference}" # the reference's channels and its one hash key
secret="${JWT_SECRET:-bench-only-jwt-secret-0123456789abcdef0123456789}"
out="${BENCH_OUT:-$root/.run/bench/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out/bin"
out="$(cd "$out" && pwd)"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

started=() # PIDs this script started
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${started[@]}"; do stop_pid "$pid"; done
  if [[ "${stack_started:-0}" == 1 ]]; then STOP_BROKERS=never "$root/deployments/stack.sh" down >&2 || true; fi
  if [[ "${brokers_started:-0}" == 1 ]]; then "$root/deployments/brokers.sh" down >&2 || true; fi
}
trap cleanup EXIT

# ------------------------------------------------------------------ build

log "building into $out/bin"
(cd "$root" && go build -o "$out/bin/loadgen" ./deployments/bench/loadgen &&
  for svc in edge presence chat notify; do go build -o "$out/bin/$svc" "./services/$svc"; done)
if ((!only_scale)); then (cd "$here/node-reference" && npm ci --no-audit --no-fund --loglevel=error >&2); fi

machine() { # the lines above the side-by-side table
  local cpu mem
  cpu="$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
  mem="$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
  echo "Machine: $(nproc) CPUs (${cpu:-unknown model}), ${mem:-? GiB} RAM, $(uname -sr), open files per process $(ulimit -Hn)"
  echo "Software: $(go version | awk '{print $3}'), Node $(node --version 2>/dev/null || echo none)"
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); scale $scale; servers on CPU $server_cpus, load generator on CPU $loadgen_cpus (taskset)"
}
machine >"$out/machine.txt"

# The Node reference's Redis (its adapter uses pub/sub channels under $redis_prefix, and with
# COUNT_SCOPE=cluster one hash key): BENCH_REDIS_URL if given, else a private redis-server on
# BENCH_REDIS_PORT started for this run (pinned with the servers and counted as the reference's),
# else none (the reference then runs without its adapter).
redis_url="${BENCH_REDIS_URL:-}"
redis_pid=""
if [[ -z "$redis_url" ]] && ((!only_scale)) && command -v redis-server >/dev/null; then
  redis_port="${BENCH_REDIS_PORT:-6391}"
  mkdir -p "$out/redis"
  (cd "$out/redis" && exec taskset -c "$server_cpus" redis-server --port "$redis_port" --bind 127.0.0.1 \
    --save '' --appendonly no >"$out/redis/redis.log" 2>&1) &
  redis_pid=$!
  started+=("$redis_pid")
  redis_url="redis://127.0.0.1:$redis_port"
  sleep 0.5
fi
redis_ok=0
if [[ -n "$redis_url" ]]; then
  host_port="${redis_url#redis://}"
  host_port="${host_port%%/*}"
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/${host_port%:*}/${host_port#*:}") 2>/dev/null; then redis_ok=1 && break; fi
    sleep 0.1
  done
fi
node_label="node (socket.io 4 + redis adapter)"
node_redis_env=(REDIS_URL="$redis_url" REDIS_PREFIX="$redis_prefix")
if [[ "${BENCH_NODE_REDIS:-1}" != 1 || $redis_ok == 0 ]]; then
  [[ "${BENCH_NODE_REDIS:-1}" != 1 ]] || log "no Redis (set BENCH_REDIS_URL or install redis-server): the Node reference runs without its adapter"
  node_label="node (socket.io 4, no adapter)"
  node_redis_env=()
  redis_pid=""
fi
with_redis() { if [[ -n "$redis_pid" ]]; then echo "$1,$redis_pid"; else echo "$1"; fi; }

# ------------------------------------------------------------------ servers

wait_health() { # PORT PID NAME
  local i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$2" 2>/dev/null || die "$3 exited; see $out/$3.log"
    if (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && grep -q healthy <&3) 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$3 not healthy on :$1"
}

# start_node NAME PORT [VAR=value…]: prints the PID.
start_node() {
  local name="$1" port="$2"
  shift 2
  (cd "$here/node-reference" && exec env PORT="$port" HOST=127.0.0.1 JWT_SECRET="$secret" CHAT_RATE_PER_MIN=0 "$@" \
    taskset -c "$server_cpus" node server.js >"$out/$name.log" 2>&1) &
  echo $!
}

start_go() { # NAME PORT
  (exec env PORT="$2" HOST=127.0.0.1 JWT_SECRET="$secret" CHAT_RATE_PER_MIN=0 LOG_LEVEL=warn \
    taskset -c "$server_cpus" "$out/bin/edge" >"$out/$1.log" 2>&1) &
  echo $!
}

# loadgen NAME ARGS…: runs the load generator pinned, keeps its JSON summary, shows its table.
loadgen() {
  local name="$1"
  shift
  log "$name"
  JWT_SECRET="$secret" taskset -c "$loadgen_cpus" "$out/bin/loadgen" "$@" -json-out "$out/$name.json" \
    >"$out/$name.txt" 2>"$out/$name.err" || { cat "$out/$name.err" >&2; die "$name failed"; }
  grep -v '^{' "$out/$name.txt"
}

idle_args=(-scenario idle -conns "$IDLE_CONNS" -rooms "$IDLE_ROOMS" -hold "$IDLE_HOLD")
fan_args=(-scenario fanout -subs "$FAN_SUBS" -rooms "$FAN_ROOMS" -pubs "$FAN_PUBS" -rates "$FAN_RATES" -step "$FAN_STEP")

# One fresh server per scenario, so RSS and CPU figures start from the same state.
targets=(node go)
((!only_scale)) || targets=()
for target in "${targets[@]}"; do
  for scenario in idle fanout; do
    name="$target-$scenario"
    if [[ $target == node ]]; then
      pid="$(start_node "$name-server" "$node_port" "${node_redis_env[@]}")"
      port="$node_port" label="$node_label"
    else
      pid="$(start_go "$name-server" "$go_port")"
      port="$go_port" label="go edge (embedded)"
    fi
    started+=("$pid")
    wait_health "$port" "$pid" "$name-server"
    if [[ $scenario == idle ]]; then args=("${idle_args[@]}"); else args=("${fan_args[@]}"); fi
    pids="$pid"
    [[ $target == go ]] || pids="$(with_redis "$pid")"
    loadgen "$name" "${args[@]}" -url "http://127.0.0.1:$port" -server-pids "$pids" -label "$label"
    stop_pid "$pid"
  done
done

# ------------------------------------------------------------------ distributed

brokers_up() { # the project's Kafka and Redis (deployments/brokers.sh), started here unless already running
  [[ "${brokers_checked:-0}" == 0 ]] || return 0
  brokers_checked=1
  if "$root/deployments/brokers.sh" status >/dev/null 2>&1; then
    log "brokers already running (not started here, left running; Kafka's heap is whatever it was started with)"
    return 0
  fi
  log "starting the brokers (deployments/brokers.sh up, Kafka heap $kafka_heap), pinned to CPU $server_cpus"
  brokers_started=1
  KAFKA_HEAP_OPTS="$kafka_heap" taskset -c "$server_cpus" "$root/deployments/brokers.sh" up >&2
}

# stack_up N: the stack with N edges on stack_port… and no nginx, every process pinned to the server CPUs.
# Sets stack_urls, stack_edge_pids, stack_pids (edges, workers, Kafka, Redis; comma separated).
stack_up() {
  local n="$1" name pid urls=() edges=() all=()
  brokers_up
  log "starting the distributed stack with $n edge(s) on :$stack_port… (deployments/stack.sh up)"
  env -u EDGE_PORTS CHAT_RATE_PER_MIN=0 JWT_SECRET="$secret" BIN_DIR="$out/bin" SKIP_BUILD=1 EDGES="$n" \
    EDGE_BASE_PORT="$stack_port" NGINX=0 taskset -c "$server_cpus" "$root/deployments/stack.sh" up >&2
  stack_started=1
  while read -r name pid; do
    all+=("$pid")
    # (brokers this script did not start keep their own affinity; the ones it started inherited it)
    if [[ "$name" != kafka && "$name" != redis ]]; then taskset -a -p -c "$server_cpus" "$pid" >/dev/null 2>&1 || true; fi
    if [[ "$name" == edge-* ]]; then
      edges+=("$pid")
      urls+=("http://127.0.0.1:${name#edge-}")
    fi
  done < <("$root/deployments/stack.sh" pids)
  ((${#edges[@]} == n)) || die "stack.sh reports ${#edges[@]} edges, not $n (another stack in ${RUN_DIR:-$root/.run}?)"
  stack_urls="$(IFS=,; echo "${urls[*]}")"
  stack_edge_pids="$(IFS=,; echo "${edges[*]}")"
  stack_pids="$(IFS=,; echo "${all[*]}")"
}

stack_down() { # NAME: stops the stack (the brokers stay), keeps its logs
  STOP_BROKERS=never "$root/deployments/stack.sh" down >&2
  stack_started=0
  mkdir -p "$out/$1-logs"
  cp "${RUN_DIR:-$root/.run}"/stack/*.log "$out/$1-logs/" 2>/dev/null || true
}

# ours, distributed: the idle scenario against one edge of the stack; only the edge is sampled (the
# brokers and workers are shared by every edge: the edge is the per-connection cost that scales).
if [[ $dist == 1 ]]; then
  stack_up 1
  loadgen go-dist-idle "${idle_args[@]}" -url "$stack_urls" -server-pids "$stack_edge_pids" \
    -label "go edge (distributed, edge process only)"
  stack_down go-dist-idle
fi

if [[ $e2e == 1 || $e2e == node ]]; then
  [[ $redis_ok == 1 ]] || die "BENCH_E2E needs Redis for the Node reference (BENCH_REDIS_URL or redis-server)"
  e2e_args=(-scenario e2e -subs "$E2E_SUBS" -rooms 1 -pubs 1 -rates "$E2E_RATES" -step "$E2E_STEP")
  p1=$((node_port + 1)) p2=$((node_port + 2))
  n1="$(start_node node-e2e-1 "$p1" "${node_redis_env[@]}" COUNT_SCOPE=cluster)"
  started+=("$n1")
  n2="$(start_node node-e2e-2 "$p2" "${node_redis_env[@]}" COUNT_SCOPE=cluster)"
  started+=("$n2")
  wait_health "$p1" "$n1" node-e2e-1
  wait_health "$p2" "$n2" node-e2e-2
  loadgen node-e2e "${e2e_args[@]}" -url "http://127.0.0.1:$p1,http://127.0.0.1:$p2" -server-pids "$(with_redis "$n1,$n2")" \
    -label "2 × $node_label"
  stop_pid "$n1"
  stop_pid "$n2"
fi
if [[ $e2e == 1 ]]; then
  stack_up 2
  loadgen go-e2e "${e2e_args[@]}" -url "$stack_urls" -server-pids "$stack_pids" -edge-pids "$stack_edge_pids" \
    -label "go: 2 edges + workers + kafka + redis"
  stack_down go-e2e
fi

# 100k: SCALE_CONNS idle connections over SCALE_EDGES edges sharing one Kafka and one Redis. Sampled: every
# process of the stack (edges, workers, Kafka, Redis), the edges also on their own.
# There is no reference to compare with here: the step measures capacity, so the stack (brokers included) and
# the load generator share SCALE_CPUS (default: every CPU).
if [[ $BENCH_100K == 1 || $BENCH_100K == only ]]; then
  saved_cpus=("$server_cpus" "$loadgen_cpus")
  server_cpus="${SCALE_CPUS:-0-$(($(nproc) - 1))}" loadgen_cpus="${SCALE_CPUS:-0-$(($(nproc) - 1))}"
  log "100k step: stack and load generator on CPUs $server_cpus"
  for f in "${RUN_DIR:-$root/.run}"/kafka/kafka.pid "${RUN_DIR:-$root/.run}"/redis/redis.pid; do
    if [[ -s "$f" ]]; then taskset -a -p -c "$server_cpus" "$(cat "$f")" >/dev/null 2>&1 || true; fi
  done
  stack_up "$SCALE_EDGES"
  loadgen go-scale -scenario idle -conns "$SCALE_CONNS" -rooms "$SCALE_ROOMS" -hold "$SCALE_HOLD" -url "$stack_urls" \
    -per-worker "${SCALE_PER_WORKER:-18000}" \
    -server-pids "$stack_pids" -edge-pids "$stack_edge_pids" -label "go: $SCALE_EDGES edges + workers + kafka + redis"
  stack_down go-scale
  server_cpus="${saved_cpus[0]}" loadgen_cpus="${saved_cpus[1]}"
fi

# ------------------------------------------------------------------ side by side

have() { if [[ -s "$out/$1.json" ]]; then echo "$out/$1.json"; else echo -; fi; }
groups=()
((only_scale)) || groups+=("$(have node-idle)" "$(have go-idle)" "$(have go-dist-idle)"
  "$(have node-fanout)" "$(have go-fanout)" -)
[[ $e2e != 1 && $e2e != node ]] || groups+=("$(have node-e2e)" - "$(have go-e2e)")
{
  echo
  cat "$out/machine.txt"
  if ((${#groups[@]} > 0)); then
    echo
    "$out/bin/loadgen" compare -names "node,ours embedded,ours distributed" "${groups[@]}"
  fi
  if [[ -s "$out/go-scale.json" ]]; then
    echo
    echo "Scale: $SCALE_CONNS connections over $SCALE_EDGES edge processes sharing one Kafka and one Redis" \
      "(server figures: every process of the stack; edges: the edge processes alone)"
    echo
    "$out/bin/loadgen" compare -names "ours distributed ($SCALE_EDGES edges)" "$out/go-scale.json"
  fi
} | tee "$out/compare.txt"
log "results in $out"
