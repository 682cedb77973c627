#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The distributed stack as local processes, all with BUS=distributed on real brokers:
#   Kafka + Redis (brokers.sh), presence x1, chat x CHAT_INSTANCES (2), notify x1,
#   one edge per EDGE_PORTS entry (127.0.0.1:4101 and :4102), and Debian's nginx on 127.0.0.1:NGINX_PORT
#   (4100) balancing the edges (deployments/nginx/realtime-locations.conf).
#   EDGES=N instead starts N edges on EDGE_BASE_PORT (4101), +1, … (EDGE_PORTS, when set, wins);
#   NGINX=0 starts no nginx (clients go straight to the edges).
#
#   stack.sh up            build bin/*, start whatever is not running yet, wait until all of it is ready
#   stack.sh down          stop everything by PID (TERM, wait, KILL); the brokers only if `up` started them
#   stack.sh status        one line per process; exit 0 only if everything is up and answering
#   stack.sh pids [WHICH]  "name PID" of each running process: edges, workers, brokers or all (default)
#   stack.sh nginx-config  write $RUN_DIR/nginx/nginx.conf and check it with `nginx -t`
#
# Idempotent: `up` twice starts nothing the second time (processes already running are kept, even if
# their binary was rebuilt: `down` then `up` to restart), `down` twice stops nothing the second time.
# Every process gets the caller's environment (any setting of .env.example applies), plus its own
# BUS, KAFKA_BROKERS, REDIS_ADDR, INSTANCE_ID and, for edges, HOST and PORT. Settings: README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=stack
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"

BIN_DIR="${BIN_DIR:-$REPO_ROOT/bin}"
[[ "$BIN_DIR" == /* ]] || BIN_DIR="$PWD/$BIN_DIR" # absolute: it is the processes' identity in ps
if [[ -z "${EDGE_PORTS:-}" && -n "${EDGES:-}" ]]; then
  [[ "$EDGES" =~ ^[1-9][0-9]*$ ]] || die "EDGES must be a positive number, not '$EDGES'"
  EDGE_PORTS="$(seq -s ' ' "${EDGE_BASE_PORT:-4101}" $((${EDGE_BASE_PORT:-4101} + EDGES - 1)))"
fi
IFS=', ' read -r -a edge_ports <<<"${EDGE_PORTS:-4101 4102}" # "4101 4102" or "4101,4102"
nginx_port="${NGINX_PORT:-4100}"
with_nginx="${NGINX:-1}" # 0: no balancer
chat_instances="${CHAT_INSTANCES:-2}"
kafka_port="${KAFKA_PORT:-9092}"
redis_port="${REDIS_PORT:-6379}"
edge_timeout="${EDGE_START_TIMEOUT:-30}"
worker_timeout="${WORKER_START_TIMEOUT:-20}"
worker_grace_ms="${WORKER_GRACE_MS:-1000}"
stop_timeout="${STACK_STOP_TIMEOUT:-20}" # above the edges' SHUTDOWN_TIMEOUT (10 s)
stop_brokers="${STOP_BROKERS:-auto}"      # auto: only those `up` started | always | never

# Development defaults only: set real values in the environment for anything shared.
export JWT_SECRET="${JWT_SECRET:-dev-only-jwt-secret-change-me-0123456789abcdef}"
export ADMIN_TOKEN="${ADMIN_TOKEN:-dev-only-admin-token}"
export BUS=distributed
export KAFKA_BROKERS="127.0.0.1:$kafka_port"
export REDIS_ADDR="127.0.0.1:$redis_port"
export KAFKA_PORT="$kafka_port" REDIS_PORT="$redis_port" # for brokers.sh

stack_dir="$RUN_DIR/stack"
nginx_dir="$RUN_DIR/nginx"
nginx_conf="$nginx_dir/nginx.conf"
nginx_pid="$nginx_dir/nginx.pid"
mkdir -p "$stack_dir"

# A line each worker logs once its bus is open and it is running (extended regex on its JSON log).
declare -A start_line=(
  [presence]='"msg":"presence (running|started)'
  [chat]='"msg":"chat worker (configured|running|started)'
  [notify]='"msg":"notify (starting|running|started)'
)

workers() { # name service, one per line
  echo "presence presence"
  local i
  for ((i = 1; i <= chat_instances; i++)); do echo "chat-$i chat"; done
  echo "notify notify"
}

nginx_bin() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }; }

# ---------------------------------------------------------------- processes

# running NAME: prints the PID if NAME (started by this script) is alive.
running() {
  local name="$1" pid bin
  pid="$(pid_from_file "$stack_dir/$name.pid")" || return 1
  bin="$(cat "$stack_dir/$name.bin" 2>/dev/null)" || return 1
  pid_matches "$pid" "$bin" || return 1
  echo "$pid"
}

# launch NAME BINARY [VAR=value...]: starts BINARY in its own session (Ctrl-C in make does not reach
# it) with the extra environment, output appended to $stack_dir/NAME.log. Prints the log offset at
# which this run's output starts. No-op if NAME is already running.
launch() {
  local name="$1" bin="$2" pidfile="$stack_dir/$1.pid" logfile="$stack_dir/$1.log" offset
  shift 2
  rm -f "$pidfile"
  printf '%s\n' "$bin" >"$stack_dir/$name.bin"
  touch "$logfile"
  offset="$(stat -c %s "$logfile")"
  local launcher=()
  command -v setsid >/dev/null && launcher=(setsid)
  # The child writes its own PID (setsid may fork), then becomes the service.
  # shellcheck disable=SC2016 # $$ and $@ are for the child shell
  "${launcher[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" env "$@" "$bin" \
    </dev/null >>"$logfile" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && break; sleep 0.1; done
  [[ -s "$pidfile" ]] || die "$name: launcher did not write $pidfile"
  echo "$offset"
}

fail_with_log() { # NAME LOGFILE MESSAGE
  log "$3; last lines of $2:"
  tail -n 25 "$2" >&2 2>/dev/null || true
  die "$1 failed to start (\`$here/stack.sh down\` stops what was started)"
}

# wait_worker NAME SERVICE OFFSET: alive after the grace period, and its start line logged (a
# worker still alive without the line after WORKER_START_TIMEOUT is accepted with a warning).
wait_worker() {
  local name="$1" svc="$2" offset="$3" logfile="$stack_dir/$1.log" pid t0 elapsed
  pid="$(pid_from_file "$stack_dir/$name.pid")"
  t0="$(now_ms)"
  while :; do
    elapsed=$(($(now_ms) - t0))
    proc_alive "$pid" || fail_with_log "$name" "$logfile" "$name (PID $pid) exited"
    if ((elapsed >= worker_grace_ms)) && tail -c +"$((offset + 1))" "$logfile" | grep -Eq "${start_line[$svc]}"; then
      log "$name ready (PID $pid, $elapsed ms)"
      return 0
    fi
    if ((elapsed >= worker_timeout * 1000)); then
      log "WARNING: $name (PID $pid) is alive but has not logged /${start_line[$svc]}/ after ${worker_timeout}s; see $logfile"
      return 0
    fi
    sleep 0.1
  done
}

health_ok() { # PORT: GET /health answers 200 with the seed's JSON
  local body
  body="$(curl -fsS --max-time 2 "http://127.0.0.1:$1/health" 2>/dev/null)" && [[ "$body" == *'"status":"healthy"'* ]]
}

wait_edge() { # NAME PORT
  local name="$1" port="$2" logfile="$stack_dir/$1.log" pid t0
  pid="$(pid_from_file "$stack_dir/$name.pid")"
  t0="$(now_ms)"
  while :; do
    proc_alive "$pid" || fail_with_log "$name" "$logfile" "$name (PID $pid) exited"
    if health_ok "$port"; then
      log "$name ready on http://127.0.0.1:$port (PID $pid, $(($(now_ms) - t0)) ms)"
      return 0
    fi
    (($(now_ms) - t0 < edge_timeout * 1000)) ||
      fail_with_log "$name" "$logfile" "$name (PID $pid) not healthy on 127.0.0.1:$port after ${edge_timeout}s"
    sleep 0.1
  done
}

# ---------------------------------------------------------------- nginx

write_nginx_config() {
  mkdir -p "$nginx_dir/tmp"
  local servers="" p
  for p in "${edge_ports[@]}"; do servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=5s;"$'\n'; done
  cat >"$nginx_conf" <<CONF
# Generated by deployments/stack.sh on every start: edit the script (or
# deployments/nginx/realtime-locations.conf), not this file.
# Our own nginx process: config, PID, logs and temp files under $nginx_dir; not the system service.
worker_processes auto;
worker_rlimit_nofile 20000;
pid $nginx_pid;
error_log $nginx_dir/error.log notice;

events {
    # Each proxied client holds two descriptors (client + edge).
    worker_connections ${NGINX_WORKER_CONNECTIONS:-8192};
}

http {
    access_log $nginx_dir/access.log;
    default_type application/octet-stream;
    client_body_temp_path $nginx_dir/tmp/client_body;
    proxy_temp_path $nginx_dir/tmp/proxy;
    fastcgi_temp_path $nginx_dir/tmp/fastcgi;
    uwsgi_temp_path $nginx_dir/tmp/uwsgi;
    scgi_temp_path $nginx_dir/tmp/scgi;
    server_tokens off;

    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      '';
    }

    upstream realtime {
        # No sticky sessions by default (round robin), as the spec's client opens a WebSocket first:
        # one long connection, which stays on the edge that accepted it. Clients that can only
        # long-poll (transports: ['polling'], or a network that blocks WebSocket) need \`ip_hash;\`
        # here: every request of an Engine.IO polling session must reach the edge that holds the
        # session, or it gets 400 "Session ID unknown".
        # ip_hash;
${servers}        keepalive 64;
    }

    server {
        listen 127.0.0.1:$nginx_port;
        include $here/nginx/realtime-locations.conf;
    }
}
CONF
}

nginx_test() { # checks the generated config; prints nginx's complaint on failure
  local bin out
  bin="$(nginx_bin)" || die "nginx is not installed (run $here/nginx/install.sh)"
  if ! out="$("$bin" -t -q -p "$nginx_dir/" -c "$nginx_conf" -e "$nginx_dir/error.log" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "nginx -t rejected $nginx_conf"
  fi
  log "nginx -t: $nginx_conf is valid"
}

nginx_running() {
  local pid
  pid="$(pid_from_file "$nginx_pid")" && pid_matches "$pid" "$nginx_conf" && echo "$pid"
}

start_nginx() {
  local pid bin t0
  if pid="$(nginx_running)"; then
    log "nginx already running (PID $pid) on 127.0.0.1:$nginx_port"
  else
    rm -f "$nginx_pid"
    port_open "$nginx_port" && die "127.0.0.1:$nginx_port is in use by another process; set NGINX_PORT or stop it"
    write_nginx_config
    nginx_test
    bin="$(nginx_bin)"
    # Daemonizes (own session) after binding the port and writes $nginx_pid.
    "$bin" -p "$nginx_dir/" -c "$nginx_conf" -e "$nginx_dir/error.log" ||
      fail_with_log nginx "$nginx_dir/error.log" "nginx exited with an error"
  fi
  t0="$(now_ms)"
  while :; do
    if pid="$(nginx_running)" && health_ok "$nginx_port"; then
      log "nginx ready on http://127.0.0.1:$nginx_port (PID $pid, balancing ${edge_ports[*]})"
      return 0
    fi
    (($(now_ms) - t0 < 10000)) || fail_with_log nginx "$nginx_dir/error.log" "nginx not serving /health on 127.0.0.1:$nginx_port after 10s"
    sleep 0.1
  done
}

# ---------------------------------------------------------------- brokers

broker_running() { # kafka|redis
  local pid
  case "$1" in
    kafka) pid="$(pid_from_file "$RUN_DIR/kafka/kafka.pid")" && pid_matches "$pid" "kafka.Kafka $RUN_DIR/kafka/server.properties" ;;
    redis) pid="$(pid_from_file "$RUN_DIR/redis/redis.pid")" && pid_matches "$pid" "redis-server" ;;
  esac
}

start_brokers() {
  local b
  for b in kafka redis; do
    if broker_running "$b"; then
      if [[ -e "$stack_dir/$b.owned" ]]; then log "$b already running (started by an earlier \`up\`)"
      else log "$b already running in $RUN_DIR: reusing it (\`down\` leaves it running: not started here)"; fi
    else
      touch "$stack_dir/$b.owned" # before starting, so that a failed start is still cleaned up by down
    fi
  done
  "$here/brokers.sh" up
}

stop_brokers() {
  local rc=0 b
  for b in kafka redis; do
    if [[ "$stop_brokers" == always || ("$stop_brokers" == auto && -e "$stack_dir/$b.owned") ]]; then
      "$here/$b/stop.sh" || rc=1
      rm -f "$stack_dir/$b.owned"
    elif broker_running "$b"; then
      log "leaving $b running (not started by stack.sh up; STOP_BROKERS=always stops it)"
    fi
  done
  return "$rc"
}

# ---------------------------------------------------------------- commands

build() {
  if [[ -n "${SKIP_BUILD:-}" ]]; then log "SKIP_BUILD set: using the binaries in $BIN_DIR"; return; fi
  local svc
  mkdir -p "$BIN_DIR"
  for svc in edge presence chat notify; do
    log "go build -o $BIN_DIR/$svc ./services/$svc"
    (cd "$REPO_ROOT" && go build -o "$BIN_DIR/$svc" "./services/$svc")
  done
}

up() {
  local t0 name svc pid offset p
  t0="$(now_ms)"
  ((${#edge_ports[@]} > 0)) || die "EDGE_PORTS is empty"
  build
  if [[ "$with_nginx" != 0 ]]; then "$here/nginx/install.sh"; fi
  start_brokers

  # Workers first, so the edges' first events find their consumers; started together, then awaited.
  declare -A offsets=()
  while read -r name svc; do
    if pid="$(running "$name")"; then
      log "$name already running (PID $pid)"
    else
      offsets[$name]="$(launch "$name" "$BIN_DIR/$svc" INSTANCE_ID="$name")"
      log "started $name (PID $(pid_from_file "$stack_dir/$name.pid")), log $stack_dir/$name.log"
    fi
  done < <(workers)
  while read -r name svc; do
    if [[ -n "${offsets[$name]:-}" ]]; then wait_worker "$name" "$svc" "${offsets[$name]}"; fi
  done < <(workers)

  for p in "${edge_ports[@]}"; do
    name="edge-$p"
    if pid="$(running "$name")"; then
      log "$name already running (PID $pid)"
      continue
    fi
    port_open "$p" && die "127.0.0.1:$p is in use by another process; set EDGE_PORTS or stop it"
    launch "$name" "$BIN_DIR/edge" INSTANCE_ID="$name" HOST=127.0.0.1 PORT="$p" >/dev/null
    log "started $name (PID $(pid_from_file "$stack_dir/$name.pid")), log $stack_dir/$name.log"
  done
  for p in "${edge_ports[@]}"; do wait_edge "edge-$p" "$p"; done

  if [[ "$with_nginx" == 0 ]]; then
    log "stack ready in $(($(now_ms) - t0)) ms, no nginx (NGINX=0): edges on ${edge_ports[*]} (state, logs: $RUN_DIR)"
    return 0
  fi
  start_nginx
  log "stack ready in $(($(now_ms) - t0)) ms: http://127.0.0.1:$nginx_port (edges: ${edge_ports[*]}; state, logs: $RUN_DIR)"
}

down() {
  local rc=0 f name bin t0
  t0="$(now_ms)"
  (stop_pid nginx "$nginx_pid" "$nginx_conf" 10) || rc=1
  # Every process that `up` recorded, whatever EDGE_PORTS/CHAT_INSTANCES say now: the edges first
  # (they close their sessions, so clients reconnect elsewhere), then the workers.
  for f in "$stack_dir"/edge-*.pid "$stack_dir"/*.pid; do
    [[ -e "$f" ]] || continue # already stopped by the first pattern, or no match
    name="$(basename "$f" .pid)"
    bin="$(cat "$stack_dir/$name.bin" 2>/dev/null || echo "$BIN_DIR/")"
    (stop_pid "$name" "$f" "$bin" "$stop_timeout") || rc=1
  done
  stop_brokers || rc=1
  if ((rc == 0)); then log "stack down ($(($(now_ms) - t0)) ms)"; else log "ERROR: some processes did not stop"; fi
  return "$rc"
}

status() {
  local rc=0 name svc pid p
  while read -r name svc; do
    if pid="$(running "$name")"; then echo "$name: up (PID $pid)"; else echo "$name: down"; rc=1; fi
  done < <(workers)
  for p in "${edge_ports[@]}"; do
    if ! pid="$(running "edge-$p")"; then echo "edge-$p: down"; rc=1
    elif health_ok "$p"; then echo "edge-$p: up (PID $pid) http://127.0.0.1:$p"
    else echo "edge-$p: unhealthy (PID $pid), /health failing on 127.0.0.1:$p"; rc=1; fi
  done
  if [[ "$with_nginx" == 0 ]]; then echo "nginx: not used (NGINX=0)"
  elif ! pid="$(nginx_running)"; then echo "nginx: down"; rc=1
  elif health_ok "$nginx_port"; then echo "nginx: up (PID $pid) http://127.0.0.1:$nginx_port"
  else echo "nginx: unhealthy (PID $pid), /health failing on 127.0.0.1:$nginx_port"; rc=1; fi
  "$here/brokers.sh" status || rc=1
  return "$rc"
}

# pids [edges|workers|brokers|all]: "name PID" per running process (edges in port order, whatever
# EDGE_PORTS says now: every edge `up` recorded). For benchmarks that sample the processes.
pids() {
  local which="${1:-all}" f name pid
  case "$which" in edges | workers | brokers | all) ;; *) die "pids: edges, workers, brokers or all" ;; esac
  if [[ "$which" == edges || "$which" == all ]]; then
    while read -r name; do
      if pid="$(running "$name")"; then echo "$name $pid"; fi
    done < <(cd "$stack_dir" && compgen -G "edge-*.pid" | sed 's/\.pid$//' | sort -V)
  fi
  if [[ "$which" == workers || "$which" == all ]]; then
    for f in "$stack_dir"/*.pid; do
      [[ -e "$f" ]] || continue
      name="$(basename "$f" .pid)"
      [[ "$name" == edge-* ]] && continue
      if pid="$(running "$name")"; then echo "$name $pid"; fi
    done
  fi
  if [[ "$which" == brokers || "$which" == all ]]; then
    if broker_running kafka; then echo "kafka $(pid_from_file "$RUN_DIR/kafka/kafka.pid")"; fi
    if broker_running redis; then echo "redis $(pid_from_file "$RUN_DIR/redis/redis.pid")"; fi
  fi
  return 0
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  pids) pids "${2:-all}" ;;
  nginx-config)
    write_nginx_config
    nginx_test
    echo "$nginx_conf"
    ;;
  *)
    echo "usage: $0 up|down|status|pids [edges|workers|brokers|all]|nginx-config" >&2
    exit 2
    ;;
esac
