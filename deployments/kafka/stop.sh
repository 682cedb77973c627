#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops the Kafka started by start.sh, by its PID file (TERM, wait, then KILL). Idempotent.
# Env: RUN_DIR (default <repo>/.run), KAFKA_STOP_TIMEOUT seconds before KILL (30).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=kafka
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

stop_pid Kafka "$RUN_DIR/kafka/kafka.pid" "kafka.Kafka $RUN_DIR/kafka/server.properties" "${KAFKA_STOP_TIMEOUT:-30}"
