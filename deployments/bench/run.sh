#!/usr/bin/env bash
# The side-by-side benchmark (issue 5): the same scenarios, with the same load generator, against the Node
# reference (node-reference/) and against our edge, in one run; the server pinned to BENCH_SERVER_CPUS and
# the load generator to BENCH_LOADGEN_CPUS with taskset; then one table with a ratio column.
#
#   deployments/bench/run.sh                     small scale (≤ 2,000 connections, a few seconds per step)
#   BENCH_SCALE=full deployments/bench/run.sh    the issue's figures (19,000 idle connections, 5,000 subscribers)
#   BENCH_E2E=1 …                                also the distributed stack (stack.sh, ports 4100-4102) and two Node
#                                                instances sharing Redis, clients spread over both (BENCH_E2E=node:
#                                                only the two Node instances)
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
  ;;
full)
  : "${IDLE_CONNS:=19000}" "${IDLE_ROOMS:=100}" "${IDLE_HOLD:=30s}"
  : "${FAN_SUBS:=5000}" "${FAN_ROOMS:=1}" "${FAN_PUBS:=10}" "${FAN_RATES:=2,4,6,10,15,20,30,40,50,60}" "${FAN_STEP:=10s}"
  : "${E2E_SUBS:=5000}" "${E2E_RATES:=20}" "${E2E_STEP:=20s}"
  ;;
*) echo "BENCH_SCALE must be small or full" >&2; exit 2 ;;
esac
server_cpus="${BENCH_SERVER_CPUS:-0}"
loadgen_cpus="${BENCH_LOADGEN_CPUS:-1}"
go_port="${BENCH_GO_PORT:-4310}"
node_port="${BENCH_NODE_PORT:-4320}" # e2e: node_port+1 and node_port+2
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
  if [[ "${stack_started:-0}" == 1 ]]; then "$root/deployments/stack.sh" down >&2 || true; fi
}
trap cleanup EXIT

# ------------------------------------------------------------------ build

log "building into $out/bin"
(cd "$root" && go build -o "$out/bin/loadgen" ./deployments/bench/loadgen && go build -o "$out/bin/edge" ./services/edge)
(cd "$here/node-reference" && npm ci --no-audit --no-fund --loglevel=error >&2)

# The Node reference's Redis (its adapter uses pub/sub channels under $redis_prefix, and with
# COUNT_SCOPE=cluster one hash key): BENCH_REDIS_URL if given, else a private redis-server on
# BENCH_REDIS_PORT started for this run (pinned with the servers and counted as the reference's),
# else none (the reference then runs without its adapter).
redis_url="${BENCH_REDIS_URL:-}"
redis_pid=""
if [[ -z "$redis_url" ]] && command -v redis-server >/dev/null; then
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
for target in node go; do
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

pairs=("$out/node-idle.json" "$out/go-idle.json" "$out/node-fanout.json" "$out/go-fanout.json")

# ------------------------------------------------------------------ distributed (optional)

e2e="${BENCH_E2E:-0}" # 1: both; node: only the Node half (leaves ports 4100-4102 alone)
if [[ $e2e == 1 || $e2e == node ]]; then
  [[ $redis_ok == 1 ]] || die "BENCH_E2E=1 needs Redis for the Node reference (BENCH_REDIS_URL or redis-server)"
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
  log "starting the distributed stack (deployments/stack.sh up, edges on :4101 and :4102)"
  CHAT_RATE_PER_MIN=0 JWT_SECRET="$secret" BIN_DIR="$out/bin/stack" "$root/deployments/stack.sh" up >&2
  stack_started=1
  run_dir="${RUN_DIR:-$root/.run}"
  stack_pids=()
  for f in "$run_dir"/stack/*.pid "$run_dir"/kafka/kafka.pid "$run_dir"/redis/redis.pid; do
    [[ -s "$f" ]] && stack_pids+=("$(cat "$f")")
  done
  for pid in "${stack_pids[@]}"; do taskset -a -p -c "$server_cpus" "$pid" >/dev/null 2>&1 || true; done
  loadgen go-e2e "${e2e_args[@]}" -url "http://127.0.0.1:4101,http://127.0.0.1:4102" \
    -server-pids "$(IFS=,; echo "${stack_pids[*]}")" -label "go: 2 edges + workers + kafka + redis"
  "$root/deployments/stack.sh" down >&2
  stack_started=0
  pairs+=("$out/node-e2e.json" "$out/go-e2e.json")
fi

# ------------------------------------------------------------------ side by side

{
  echo
  echo "Side by side, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -sr), scale $scale;" \
    "servers on CPU $server_cpus, load generator on CPU $loadgen_cpus"
  "$out/bin/loadgen" compare -names "node,go" "${pairs[@]}"
} | tee "$out/compare.txt"
log "results in $out"
