#!/usr/bin/env bash
# Usage: restart-apiserver.sh DIR [DOWN_SECONDS]
# Stops kube-apiserver of the control plane in DIR, keeps it down for DOWN_SECONDS (default 0),
# and starts it again with the same port and flags; returns once /readyz answers. etcd keeps
# the data, so clients see the same objects (and must re-list or resume their watches).
set -euo pipefail

SCRIPT_NAME=restart-apiserver.sh
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  cp_log "usage: restart-apiserver.sh DIR [DOWN_SECONDS]"
  exit 2
fi
DIR="$(cd "$1" && pwd)"
DOWN="${2:-0}"
[ -f "$DIR/kube-apiserver.args" ] || { cp_log "error: no control plane in $DIR"; exit 1; }
cp_lock "$DIR"
# stop.sh may have run while we waited for the lock; then there is nothing to restart.
if [ ! -f "$DIR/etcd.pid" ]; then
  cp_log "error: the control plane in $DIR is stopped"
  exit 1
fi

# An apiserver drains open watches (the controller manager's) for up to a minute after TERM;
# a crash-like stop after 2 s is what the restart is meant to simulate anyway.
cp_stop_process "$DIR" kube-apiserver 2
sleep "$DOWN"
cp_spawn "$DIR" kube-apiserver
# Keep DIR/env's KUBE_APISERVER_PID current.
sed -i "s/^KUBE_APISERVER_PID=.*/KUBE_APISERVER_PID=$(cat "$DIR/kube-apiserver.pid")/" "$DIR/env"
if ! cp_wait "$DIR" kube-apiserver 120 "kube-apiserver /readyz" cp_apiserver_ready "$DIR"; then
  cp_tail_log "$DIR/kube-apiserver.log"
  cp_stop_process "$DIR" kube-apiserver
  exit 1
fi
cp_log "kube-apiserver restarted"
