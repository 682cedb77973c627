#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Installs redis-server (and redis-cli) from Debian's packages if missing. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=redis
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  log "already installed: $(redis-server --version | cut -d' ' -f1-3)"
  exit 0
fi
apt_install redis-server redis-tools
log "installed: $(redis-server --version | cut -d' ' -f1-3)"
