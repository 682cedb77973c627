#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Installs nginx from Debian's packages if missing. Idempotent. The package's own service is never
# started (lib/common.sh's apt_install blocks maintainer-script service starts); deployments/stack.sh
# runs nginx as its own process with its own config, PID and log files under $RUN_DIR/nginx.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=nginx
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

nginx_bin() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; }; }

if bin="$(nginx_bin)"; then
  log "already installed: $("$bin" -v 2>&1)"
  exit 0
fi
apt_install nginx
bin="$(nginx_bin)" || die "nginx installed but not found on PATH or in /usr/sbin"
log "installed: $("$bin" -v 2>&1)"
