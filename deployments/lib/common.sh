# shellcheck shell=bash
# Shared helpers for the deployments/* scripts. Source it, don't run it.
#
# Sets:
#   REPO_ROOT  the repository root (two levels above this file)
#   RUN_DIR    where all broker state lives (default: $REPO_ROOT/.run, git-ignored)

_common_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$_common_dir/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)" # absolute: the brokers are started from other directories
export RUN_DIR

log() { printf '[%s] %s\n' "${LOG_TAG:-deploy}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# pid_from_file FILE: prints the PID stored in FILE if the file exists and holds a number.
pid_from_file() {
  local f="$1" pid
  [[ -f "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  printf '%s\n' "$pid"
}

# pid_matches PID PATTERN: the process is alive and its command line contains PATTERN
# (guards against signalling an unrelated process that reused a stale PID).
pid_matches() {
  local pid="$1" pattern="$2" cmdline
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0 # no procfs: trust kill -0
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$pattern"* ]]
}

# proc_alive PID: the process exists and is not a zombie. (A process that exited stays a zombie until
# its parent, often init, reaps it: a second or two on some machines; `kill -0` still succeeds on it.)
proc_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0 # no procfs: trust kill -0
  [[ "${stat##*) }" != Z* ]]
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# stop_pid NAME PIDFILE PATTERN [GRACE_SECONDS]: TERM, wait, then KILL. Idempotent.
stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" grace="${4:-30}" pid i
  if ! pid="$(pid_from_file "$pidfile")"; then
    log "$name is not running (no PID file)"
    rm -f "$pidfile"
    return 0
  fi
  if ! pid_matches "$pid" "$pattern"; then
    log "$name is not running (stale PID file, PID $pid)"
    rm -f "$pidfile"
    return 0
  fi
  log "stopping $name (PID $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    proc_alive "$pid" || break
    sleep 0.1
  done
  if proc_alive "$pid"; then
    log "$name did not stop within ${grace}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      proc_alive "$pid" || break
      sleep 0.1
    done
  fi
  proc_alive "$pid" && die "$name (PID $pid) is still alive"
  rm -f "$pidfile"
  log "$name stopped"
}

# apt_install PKG...: installs Debian packages as root, running 'apt-get update' only when
# a package has no install candidate yet (fresh machine with empty package lists).
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  [[ "$(id -u)" == 0 ]] || die "need root to apt-get install $* (or install it by hand)"
  local p need_update=0
  for p in "$@"; do
    # (no 'apt-cache | grep -q' pipe: grep exits early, apt-cache gets SIGPIPE, pipefail trips)
    [[ "$(apt-cache policy "$p" 2>/dev/null)" == *"Candidate: "[0-9]* ]] || need_update=1
  done
  if ((need_update)); then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  fi
  # Keep the packages' maintainer scripts from starting system-wide services (e.g. a redis on
  # 6379 that would collide with ours) on machines with an init system: Debian's policy-rc.d hook.
  local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  if ((made_policy)); then rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
}
