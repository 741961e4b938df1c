# Shared by start.sh, stop.sh and restart-apiserver.sh; sourced, never run.
# A control plane lives in one directory DIR: certificates in DIR/pki, etcd data in DIR/etcd,
# one NAME.pid, NAME.log and (for restarts) NAME.args per process, DIR/env and DIR/kubeconfig.
# shellcheck shell=bash

# Process names in start order; stop order is the reverse.
# shellcheck disable=SC2034 # used by the scripts that source this file
CONTROL_PLANE_PROCESSES=(etcd kube-apiserver kube-controller-manager)

# Serializes start.sh, stop.sh and restart-apiserver.sh on one DIR: a watchdog's stop must not
# interleave with a restart still running for a test binary that was killed meanwhile. Holds
# fd 9 until the calling script exits; cp_spawn closes fd 9 for the daemons, which would
# otherwise keep the lock after the script ends.
cp_lock() {
  exec 9>"$1/.lock"
  flock 9
}

cp_log() { echo "${SCRIPT_NAME:-control-plane}: $*" >&2; }

# Prints the last lines of a log file, framed, to stderr.
cp_tail_log() {
  local file=$1
  [ -f "$file" ] || return 0
  echo "----- last 40 lines of $file -----" >&2
  tail -n 40 "$file" >&2
  echo "-----" >&2
}

# True when PID is running. A zombie is not: daemons started here are reparented to pid 1,
# which on some machines (a microVM's init) reaps them only after a while.
cp_alive() {
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# True when PID is alive and its command line mentions DIR: a pid file left behind long ago
# must never lead to killing an unrelated process that reused the number.
cp_owned_pid() {
  local dir=$1 pid=$2
  [ -n "$pid" ] && cp_alive "$pid" \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"
}

# Stops the process recorded in DIR/NAME.pid: TERM, then KILL after GRACE seconds (default 5).
# Idempotent.
cp_stop_process() {
  local dir=$1 name=$2 grace=${3:-5} pid i
  local pidfile="$dir/$name.pid"
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if cp_owned_pid "$dir" "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      cp_alive "$pid" || break
      sleep 0.1
    done
    if cp_alive "$pid"; then
      cp_log "$name (pid $pid) still running ${grace}s after TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        cp_alive "$pid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pidfile"
}

# Starts DIR/NAME.args (one argument per line; the first is the binary) in the background with
# its output in DIR/NAME.log (appended, so a restart keeps the history) and records its pid.
# stdin/stdout/stderr are detached so a caller reading this script's output is not held open.
cp_spawn() {
  local dir=$1 name=$2
  local -a argv
  mapfile -t argv <"$dir/$name.args"
  echo "=== $(date -u +%FT%TZ) starting $name" >>"$dir/$name.log"
  "${argv[@]}" </dev/null >>"$dir/$name.log" 2>&1 9>&- &
  echo $! >"$dir/$name.pid"
}

# Polls COMMAND... every 0.5 s until it succeeds, for at most TIMEOUT seconds, failing early when
# the process NAME of DIR has exited. Returns 0 when ready, 1 on timeout or exit.
cp_wait() {
  local dir=$1 name=$2 timeout=$3 what=$4
  shift 4
  local deadline=$((SECONDS + timeout)) pid
  pid="$(cat "$dir/$name.pid")"
  until "$@" >/dev/null 2>&1; do
    if ! cp_alive "$pid"; then
      cp_log "$name exited while waiting for $what"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      cp_log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# GETs an apiserver path with the admin token; succeeds only on HTTP 2xx.
cp_api_get() {
  local dir=$1 path=$2
  # shellcheck disable=SC1091
  (. "$dir/env" && curl -sf --max-time 5 --cacert "$dir/pki/ca.crt" \
    -H "Authorization: Bearer $TOKEN" "$APISERVER_URL$path")
}

cp_apiserver_ready() {
  [ "$(cp_api_get "$1" /readyz)" = "ok" ]
}
