#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops the redis-server started by start.sh, by its PID file (TERM, wait, then KILL). Idempotent.
# Env: RUN_DIR (default <repo>/.run), REDIS_STOP_TIMEOUT seconds before KILL (10).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=redis
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

stop_pid Redis "$RUN_DIR/redis/redis.pid" "redis-server" "${REDIS_STOP_TIMEOUT:-10}"
