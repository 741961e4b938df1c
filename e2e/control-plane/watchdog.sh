#!/usr/bin/env bash
# Usage: watchdog.sh DIR OWNER_PID [--remove-dir]
# Started by start.sh when OXEYE_CONTROL_PLANE_OWNER_PID is set: waits until the owning process
# (a test binary) has exited, however it ended, then stops the control plane of DIR and, with
# --remove-dir, deletes DIR. This is what stops a control plane shared through a static, whose
# destructor never runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 2 ] || { echo "usage: watchdog.sh DIR OWNER_PID [--remove-dir]" >&2; exit 2; }
DIR=$1
OWNER=$2
while kill -0 "$OWNER" 2>/dev/null; do
  sleep 1
done
# Not our own pid file: stop.sh must not TERM the watchdog that runs it.
rm -f "$DIR/watchdog.pid"
bash "$HERE/stop.sh" "$DIR" || true
if [ "${3:-}" = "--remove-dir" ]; then
  rm -rf "$DIR"
fi
