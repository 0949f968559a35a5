#!/usr/bin/env bash
# A local swimfd cluster on loopback, one detector (plus its go-diss child) per node.
#
#   deploy/cluster.sh start [N=5] [MODE=swim] [CONFIG_FILE]   start N nodes in the background
#                                            (NODE_ARGS="--feign-failure ..." adds flags to every node)
#   deploy/cluster.sh stop                   SIGTERM every node (graceful leave), SIGKILL after 10 s
#   deploy/cluster.sh kill K                 SIGKILL node K (a crash: no leave message)
#   deploy/cluster.sh pause K SECONDS        SIGSTOP node K, SIGCONT it after SECONDS (at most 600)
#   deploy/cluster.sh status                 which nodes run, and node 1's view
#
# Mutual TLS by default: start creates a CA, one certificate per node and a
# client certificate (for members/health/monitor) under $RUN/tls with
# `swimfd certs`, once, and every process uses them. INSECURE=1 (or
# NODE_ARGS=--insecure) runs plaintext instead, for a quick experiment.
#
# start also runs `swimfd monitor` (the web view) on $MONITOR_LISTEN (default
# 127.0.0.1:8080) and prints its URL; stop stops it too. MONITOR_LISTEN=off skips it.
#
# Node k's detector listens on 127.0.0.1:(50050 + k) and its go-diss on the
# detector port + DISS_PORT_OFFSET (10; named once in
# pyserver/swimfd/runtime/settings.py, and read from there); past that many
# nodes, ports skip ahead by twice the offset so the two ranges never overlap.
# PORT_BASE (default 50050) moves the whole range. Logs, pids and stdout go to $RUN_DIR (default ./run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${RUN_DIR:-$ROOT/run}
PY=$ROOT/.venv/bin/python
MAX_NODES=50

die() { echo "cluster.sh: $*" >&2; exit 1; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
# The detector port of node k, in blocks of $OFFSET ports (OFFSET=$(diss_offset) first).
det_port() { local k=$1; echo $((${PORT_BASE:-50050} + 1 + 2 * OFFSET * ((k - 1) / OFFSET) + (k - 1) % OFFSET)); }
diss_offset() {
  PYTHONPATH=$ROOT/pyserver "$PY" -c 'from swimfd.runtime.settings import DISS_PORT_OFFSET; print(DISS_PORT_OFFSET)' ||
    die "cannot read DISS_PORT_OFFSET from pyserver/swimfd/runtime/settings.py"
}
pid_of() { [[ -f $RUN/node$1.pid ]] && cat "$RUN/node$1.pid"; }
alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
insecure() { [[ ${INSECURE:-} == 1 || " ${NODE_ARGS:-} " == *" --insecure "* ]]; }
# Flags for the client commands (members, health, monitor): the client certificate, unless the
# running cluster was started in plaintext (start leaves $RUN/insecure then).
tls_flags() { [[ -f $RUN/insecure ]] || echo "--tls-dir $RUN/tls"; }

# make_certs N: the CA, certificates for nodes 1..N and the client certificate, each created once.
make_certs() {
  local n=$1 k tls=$RUN/tls
  [[ -f $tls/ca.pem ]] || "$PY" -m swimfd certs ca --dir "$tls" >/dev/null || die "cannot create the CA in $tls"
  for ((k = 1; k <= n; k++)); do
    [[ -f $tls/node-$k.pem ]] || "$PY" -m swimfd certs node --dir "$tls" --id "$k" --host 127.0.0.1 --host localhost \
      >/dev/null || die "cannot create node $k's certificate in $tls"
  done
  [[ -f $tls/client.pem ]] || "$PY" -m swimfd certs client --dir "$tls" >/dev/null || die "cannot create $tls/client.pem"
}

node_ids() { for f in "$RUN"/node*.pid; do [[ -e $f ]] || continue; f=${f##*/node}; echo "${f%.pid}"; done | sort -n; }

start() {
  local n=${1:-5} mode=${2:-swim} config=${3:-}
  is_uint "$n" && ((n >= 1 && n <= MAX_NODES)) || die "N must be an integer in 1-$MAX_NODES, got '$n'"
  [[ $mode =~ ^(swim|heartbeat|hybrid)$ ]] || die "MODE must be swim, heartbeat or hybrid, got '$mode'"
  [[ -z $config || -f $config ]] || die "CONFIG file '$config' does not exist"
  [[ -x $PY ]] || die "$PY missing: run 'make venv' (make run-cluster does it for you)"
  OFFSET=$(diss_offset)
  for k in $(node_ids); do alive "$(pid_of "$k")" && die "node $k is already running: run 'make stop-cluster' first"; done
  mkdir -p "$RUN"
  rm -f "$RUN"/node*.pid "$RUN"/node*.log "$RUN"/node*.out
  local members="" k
  for ((k = 1; k <= n; k++)); do members+="${members:+,}127.0.0.1:$(det_port "$k")"; done
  local extra=()
  [[ -n $config ]] && extra=(--config "$config")
  # Extra detector flags for every node, split on white space (flags take no spaces).
  local node_args=()
  read -r -a node_args <<<"${NODE_ARGS:-}"
  extra+=("${node_args[@]}")
  local security="mutual TLS (certificates in $RUN/tls)"
  rm -f "$RUN/insecure"
  if insecure; then
    touch "$RUN/insecure"
    [[ " ${node_args[*]} " == *" --insecure "* ]] || extra+=(--insecure)
    security="PLAINTEXT (--insecure): anyone who reaches these ports can act as any member"
  else
    make_certs "$n"
    extra+=(--tls-dir "$RUN/tls")
  fi
  for ((k = 1; k <= n; k++)); do
    # setsid: the nodes outlive this script and a Ctrl-C typed in its terminal.
    setsid "$PY" "$ROOT/pyserver/failure_detector.py" --id "$k" --members "$members" --mode "$mode" \
      --log-file "$RUN/node$k.log" "${extra[@]}" >"$RUN/node$k.out" 2>&1 </dev/null &
    echo $! >"$RUN/node$k.pid"
  done
  # Wait (bounded) until every node's grpc.health.v1 says SERVING (started, joined, its go-diss up).
  local deadline=$((SECONDS + 30))
  for ((k = 1; k <= n; k++)); do
    # shellcheck disable=SC2046  # tls_flags is two words or none
    until "$PY" -m swimfd health $(tls_flags) --target "127.0.0.1:$(det_port "$k")" --wait 2 --quiet; do
      alive "$(pid_of "$k")" || die "node $k exited at start-up: $(tail -n 1 "$RUN/node$k.out")"
      ((SECONDS < deadline)) || die "node $k is not SERVING after 30 s; see $RUN/node$k.log"
    done
  done
  cat <<MSG
started $n nodes in $mode mode: detectors 127.0.0.1:$(det_port 1)..$(det_port "$n"), go-diss at port + $OFFSET
  security: $security
  members: $members
  logs:    $RUN/node<k>.log (detector JSON), $RUN/node<k>.diss.log (go-diss), $RUN/node<k>.out (stdout/stderr)
  view:    .venv/bin/python -m swimfd members $(tls_flags) --target 127.0.0.1:$(det_port 1)
  health:  .venv/bin/python -m swimfd health $(tls_flags) --target 127.0.0.1:$(det_port 1)
  watch:   tail -f $RUN/node*.log | grep -v transport_stats
  faults:  make kill-node NODE=k | make pause-node NODE=k SECONDS=s
  stop:    make stop-cluster
MSG
}

stop() {
  local pids=() k p
  for k in $(node_ids); do p=$(pid_of "$k"); alive "$p" && pids+=("$p"); done
  if ((${#pids[@]} == 0)); then rm -f "$RUN"/node*.pid; echo "no cluster running"; return 0; fi
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + 10)) left
  while :; do
    left=()
    for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
    ((${#left[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      echo "SIGKILL after 10 s: ${left[*]}" >&2
      kill -KILL "${left[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$RUN"/node*.pid
  echo "stopped ${#pids[@]} nodes (logs kept in $RUN)"
}

node_pid() {
  local k=${1:-}
  is_uint "$k" || die "NODE must be a node number, got '$k'"
  local p
  p=$(pid_of "$k") || die "node $k is not part of the cluster (no $RUN/node$k.pid)"
  alive "$p" || die "node $k (pid $p) is not running"
  echo "$p"
}

kill_node() {
  local p
  p=$(node_pid "${1:-}")
  kill -KILL "$p"
  echo "node $1 (pid $p) killed with SIGKILL; its go-diss exits with it"
}

pause_node() {
  local p s=${2:-}
  p=$(node_pid "${1:-}")
  [[ $s =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$s" 'BEGIN { exit !(s > 0 && s <= 600) }' ||
    die "SECONDS must be a number in (0, 600], got '$s'"
  # The whole node pauses: detector and its go-diss child (found by parent pid).
  local pids=("$p") c
  for c in $(pgrep -P "$p" || true); do pids+=("$c"); done
  trap 'kill -CONT "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
  kill -STOP "${pids[@]}"
  echo "node $1 paused (SIGSTOP pids ${pids[*]}) for $s s"
  sleep "$s"
  kill -CONT "${pids[@]}"
  trap - EXIT INT TERM
  echo "node $1 resumed (SIGCONT)"
}

status() {
  local k p first=""
  [[ -n $(node_ids) ]] || { echo "no cluster running (make run-cluster starts one)"; return 0; }
  for k in $(node_ids); do
    p=$(pid_of "$k")
    if alive "$p"; then echo "node $k: running (pid $p)"; first=${first:-$k}; else echo "node $k: not running"; fi
  done
  # shellcheck disable=SC2046
  [[ -n $first ]] && OFFSET=$(diss_offset) && "$PY" -m swimfd members $(tls_flags) --target "127.0.0.1:$(det_port "$first")" || true
}

# ---- the monitor: one web view of every node's view (swimfd monitor) ----
MONITOR_LISTEN=${MONITOR_LISTEN:-127.0.0.1:8080}

start_monitor() {
  local n=${1:-5} seeds="" k p
  [[ $MONITOR_LISTEN == off ]] && return 0
  p=$(cat "$RUN/monitor.pid" 2>/dev/null || true)
  alive "$p" && die "the monitor is already running (pid $p): run 'make stop-cluster' first"
  for ((k = 1; k <= n; k++)); do seeds+="${seeds:+,}127.0.0.1:$(det_port "$k")"; done
  rm -f "$RUN/monitor.out"
  # shellcheck disable=SC2046
  setsid "$PY" -m swimfd monitor $(tls_flags) --seeds "$seeds" --listen "$MONITOR_LISTEN" --log-file "$RUN/monitor.log" \
    >"$RUN/monitor.out" 2>&1 </dev/null &
  echo $! >"$RUN/monitor.pid"
  local deadline=$((SECONDS + 15))
  until grep -q "serving" "$RUN/monitor.out" 2>/dev/null; do
    alive "$(cat "$RUN/monitor.pid")" || die "the monitor exited at start-up (the nodes run; MONITOR=host:port or MONITOR=off): $(tail -n 1 "$RUN/monitor.out")"
    ((SECONDS < deadline)) || die "the monitor did not start within 15 s; see $RUN/monitor.out"
    sleep 0.2
  done
  echo "  monitor: http://$MONITOR_LISTEN/ (log $RUN/monitor.log)"
}

stop_monitor() {
  local p
  p=$(cat "$RUN/monitor.pid" 2>/dev/null || true)
  if alive "$p"; then
    kill -TERM "$p"
    local deadline=$((SECONDS + 5))
    while alive "$p" && ((SECONDS < deadline)); do sleep 0.2; done
    alive "$p" && kill -KILL "$p" 2>/dev/null || true
    echo "stopped the monitor"
  fi
  rm -f "$RUN/monitor.pid"
}

cmd=${1:-}
shift || true
case $cmd in
  start) start "$@" && start_monitor "$@" ;;
  stop) stop_monitor && stop ;;
  kill) kill_node "$@" ;;
  pause) pause_node "$@" ;;
  status) status ;;
  *) die "usage: cluster.sh start [N] [MODE] [CONFIG] | stop | kill K | pause K SECONDS | status" ;;
esac
