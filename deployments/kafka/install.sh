#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Fetches the Apache Kafka broker jars (see pom.xml) from Maven Central into $RUN_DIR/kafka/lib.
# Idempotent: does nothing when the jars for the current pom.xml are already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LOG_TAG=kafka
# shellcheck source=../lib/common.sh
source "$here/../lib/common.sh"

lib="$RUN_DIR/kafka/lib"
stamp="$lib/.installed"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$lib/kafka_2.13-*.jar" >/dev/null; then
  log "already installed in $lib"
  exit 0
fi

if ! command -v java >/dev/null && [[ -z "${JAVA_HOME:-}" ]]; then apt_install openjdk-17-jre-headless; fi
command -v mvn >/dev/null || apt_install maven

log "fetching Kafka jars with Maven into $lib"
tmp="$RUN_DIR/kafka/lib.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
if ! mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp" >"$RUN_DIR/kafka/install.log" 2>&1; then
  tail -n 40 "$RUN_DIR/kafka/install.log" >&2
  die "maven failed (full log: $RUN_DIR/kafka/install.log)"
fi
compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "maven finished but no kafka_2.13 jar in $tmp"
compgen -G "$tmp/log4j-slf4j-impl-*.jar" >/dev/null || die "maven finished but no log4j-slf4j-impl jar in $tmp"
printf '%s\n' "$want" >"$tmp/.installed"
rm -rf "$lib"
mv "$tmp" "$lib"
trap - EXIT
jars=("$lib"/*.jar)
log "installed $(basename "$lib"/kafka_2.13-*.jar) ($((${#jars[@]})) jars)"
