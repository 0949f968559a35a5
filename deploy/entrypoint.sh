#!/bin/sh
# Container entrypoint: derive this member's id and addresses from its host name, then exec the detector.
#
# A StatefulSet (deploy/k8s/) names its pods NAME-0, NAME-1, ...; compose (deploy/compose.yaml) uses the
# same host names. Member ids are positive integers (`swimfd run --id`), so pod NAME-k is member k + 1.
# Peers are found by DNS: pod NAME-k is NAME-k.$SWIMFD_PEER_DOMAIN (the headless Service's domain,
# e.g. swimfd.default.svc.cluster.local), or plain NAME-k when SWIMFD_PEER_DOMAIN is empty (compose).
#
#   HOSTNAME             pod or container host name, NAME-ORDINAL (set by the runtime)
#   SWIMFD_PEER_DOMAIN   DNS domain of the peers ("" : bare host names)
#   SWIMFD_PORT          detector port (default 50051); go-diss listens on it + DISS_PORT_OFFSET (10)
#   SWIMFD_SEED_COUNT    members NAME-0 .. NAME-(count-1) are the seeds (default 3); every member joins
#                        through the seeds other than itself, so seeds must start together (the
#                        StatefulSet uses podManagementPolicy: Parallel) and count <= replicas
#   SWIMFD_BIN           the detector command (default swimfd); tests point it at a stub
#
# Anything else `swimfd run` reads from the environment (MODE, SWIMFD_CONFIG, LOG_LEVEL, SWIMFD_TLS_DIR,
# ...) passes through untouched, and arguments given to the container are appended to the command.
# The detector replaces this shell (exec), so SIGTERM from the runtime reaches it and it leaves gracefully.
set -eu

die() { echo "entrypoint: $*" >&2; exit 64; }

host=${HOSTNAME:-$(hostname)}
name=${host%-*}
ordinal=${host##*-}
case $ordinal in
'' | *[!0-9]*) die "host name '$host' does not end in -ORDINAL (a StatefulSet pod name such as swimfd-0)" ;;
esac
[ "$name" != "$host" ] && [ -n "$name" ] || die "host name '$host' is not NAME-ORDINAL"
ordinal=$((ordinal + 0)) # no leading zeros in the id

port=${SWIMFD_PORT:-50051}
case $port in '' | *[!0-9]*) die "SWIMFD_PORT '$port' is not a port number" ;; esac
seeds=${SWIMFD_SEED_COUNT:-3}
case $seeds in '' | *[!0-9]*) die "SWIMFD_SEED_COUNT '$seeds' is not a number" ;; esac
domain=${SWIMFD_PEER_DOMAIN:-}

peer() { # the detector address of member NAME-$1
  if [ -n "$domain" ]; then echo "$name-$1.$domain:$port"; else echo "$name-$1:$port"; fi
}

NODE_ID=$((ordinal + 1))
export NODE_ID
advertise=$(peer "$ordinal")
join=""
i=0
while [ "$i" -lt "$seeds" ]; do
  [ "$i" -ne "$ordinal" ] && join="${join:+$join,}$(peer "$i")"
  i=$((i + 1))
done

set -- run --id "$NODE_ID" --bind "0.0.0.0:$port" --advertise "$advertise" ${join:+--join "$join"} "$@"
echo "entrypoint: member $NODE_ID (host $host) advertises $advertise${join:+, joins through $join}" >&2
exec "${SWIMFD_BIN:-swimfd}" "$@"
