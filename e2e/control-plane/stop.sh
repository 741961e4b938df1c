#!/usr/bin/env bash
# Usage: stop.sh DIR
# Stops the control plane started by start.sh DIR: its watchdog, then kube-controller-manager,
# kube-apiserver and etcd (TERM, KILL after 5 s). Only processes whose command line names DIR
# are signalled. Idempotent: stopping a stopped control plane succeeds.
set -euo pipefail

SCRIPT_NAME=stop.sh
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

[ $# -eq 1 ] || { cp_log "usage: stop.sh DIR"; exit 2; }
[ -d "$1" ] || exit 0
DIR="$(cd "$1" && pwd)"
cp_lock "$DIR"

cp_stop_process "$DIR" watchdog
for ((i = ${#CONTROL_PLANE_PROCESSES[@]} - 1; i >= 0; i--)); do
  cp_stop_process "$DIR" "${CONTROL_PLANE_PROCESSES[i]}"
done
