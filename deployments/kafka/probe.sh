# shellcheck shell=bash
# kafka_ready PORT: succeeds when the broker on 127.0.0.1:PORT answers a Metadata request with at
# least one live broker (i.e. it is unfenced and serving clients, not just listening).
# Pure bash: sends Metadata v4 (the oldest version Kafka 4.x accepts; non-flexible, header v1)
#   size=15 | api_key=3 | api_version=4 | correlation_id=1 | client_id=null | topics=null | auto_create=0
# and reads the response head: size(4) correlation_id(4) throttle_time_ms(4) brokers.count(4).
kafka_ready() {
  local port="$1" hex
  # shellcheck disable=SC2016 # $0 is expanded by the inner shell
  hex="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "\x00\x00\x00\x0f\x00\x03\x00\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\x00" >&3
    head -c 16 <&3' "$port" 2>/dev/null | od -An -tx1 | tr -d ' \n')" || true
  [[ ${#hex} -eq 32 && "${hex:8:8}" == "00000001" && "${hex:24:8}" != "00000000" ]]
}
