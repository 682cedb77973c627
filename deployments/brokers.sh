#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Local Kafka + Redis for distributed mode and integration tests.
#   brokers.sh up      install (if needed) and start both; waits until both are ready
#   brokers.sh down    stop both (by PID file)
#   brokers.sh status  print state; exit 0 only if both are up and answering
#   brokers.sh env     print the client settings as shell assignments (eval "$(deployments/brokers.sh env)")
# All scripts are idempotent. Env: RUN_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_PORT (see README.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=brokers
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=kafka/probe.sh
source "$here/kafka/probe.sh"

kafka_port="${KAFKA_PORT:-9092}"
redis_port="${REDIS_PORT:-6379}"

status() {
  local ok=0 pid
  if pid="$(pid_from_file "$RUN_DIR/kafka/kafka.pid")" && pid_matches "$pid" "kafka.Kafka $RUN_DIR/kafka/server.properties"; then
    if kafka_ready "$kafka_port"; then echo "kafka: up (PID $pid) 127.0.0.1:$kafka_port"
    else echo "kafka: starting or unhealthy (PID $pid), not answering on 127.0.0.1:$kafka_port"; ok=1; fi
  else echo "kafka: down"; ok=1; fi
  if pid="$(pid_from_file "$RUN_DIR/redis/redis.pid")" && pid_matches "$pid" "redis-server"; then
    if [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" == PONG ]]; then
      echo "redis: up (PID $pid) 127.0.0.1:$redis_port"
    else echo "redis: unhealthy (PID $pid), no PONG on 127.0.0.1:$redis_port"; ok=1; fi
  else echo "redis: down"; ok=1; fi
  return "$ok"
}

case "${1:-}" in
  up)
    "$here/kafka/install.sh"
    "$here/redis/install.sh"
    "$here/redis/start.sh"
    "$here/kafka/start.sh"
    ;;
  down)
    rc=0
    "$here/kafka/stop.sh" || rc=1
    "$here/redis/stop.sh" || rc=1
    exit "$rc"
    ;;
  status) status ;;
  env)
    echo "KAFKA_BROKERS=127.0.0.1:$kafka_port"
    echo "REDIS_ADDR=127.0.0.1:$redis_port"
    ;;
  *)
    echo "usage: $0 up|down|status|env" >&2
    exit 2
    ;;
esac
