#!/usr/bin/env bash
# Usage: start.sh DIR
# Starts etcd, kube-apiserver and kube-controller-manager on free loopback ports, with their
# certificates, pids, logs and an admin kubeconfig in DIR, and returns once Pods can be created
# (the apiserver is ready and the `default` ServiceAccount exists). Leaves them running;
# stop.sh DIR stops them. On failure stops what it started and prints the relevant log.
#
# Environment:
#   OXEYE_CACHE_DIR                  where install.sh cached the binaries (~/.cache/oxeye)
#   OXEYE_CONTROL_PLANE_OWNER_PID    when set, a watchdog stops the control plane (and, with
#   OXEYE_CONTROL_PLANE_REMOVE_DIR=1, removes DIR) once that process has exited
set -euo pipefail

SCRIPT_NAME=start.sh
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

die() { cp_log "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: start.sh DIR"
mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
cp_lock "$DIR"
CACHE="${OXEYE_CACHE_DIR:-$HOME/.cache/oxeye}"
INSTALL_ENV="$CACHE/control-plane.env"
[ -f "$INSTALL_ENV" ] || die "$INSTALL_ENV not found: run e2e/control-plane/install.sh first"
# shellcheck disable=SC1090
. "$INSTALL_ENV"
for bin in "$ETCD" "$KUBE_APISERVER" "$KUBE_CONTROLLER_MANAGER"; do
  [ -x "$bin" ] || die "$bin missing: run e2e/control-plane/install.sh"
done

for name in "${CONTROL_PLANE_PROCESSES[@]}"; do
  if [ -f "$DIR/$name.pid" ] && cp_owned_pid "$DIR" "$(cat "$DIR/$name.pid")"; then
    die "$name is already running for $DIR; run stop.sh $DIR first"
  fi
done

stop_all() {
  local i
  for ((i = ${#CONTROL_PLANE_PROCESSES[@]} - 1; i >= 0; i--)); do
    cp_stop_process "$DIR" "${CONTROL_PLANE_PROCESSES[i]}"
  done
}

succeeded=0
on_exit() {
  if [ "$succeeded" -eq 0 ]; then
    cp_log "start failed; stopping what was started"
    stop_all
  fi
}
trap on_exit EXIT

# --- certificates and the admin token --------------------------------------------------------
PKI="$DIR/pki"
mkdir -p "$PKI"
if [ ! -f "$PKI/apiserver.crt" ]; then
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=oxeye-e2e-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    # 10.0.0.1 and kubernetes.default.svc: the in-cluster address of the `kubernetes` Service
    # (first IP of --service-cluster-ip-range), for clients that use in-cluster names.
    printf '%s\n' \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
      "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 365 -extfile apiserver.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    echo "$(openssl rand -hex 24),admin,admin,system:masters" >tokens.csv
    chmod 600 ./*.key tokens.csv
  )
fi
TOKEN="$(cut -d, -f1 "$PKI/tokens.csv")"

# --- ports -----------------------------------------------------------------------------------
# Four distinct free ports, found by binding them all at once. Another run may grab one between
# this and our bind; start_all then fails with "address already in use" and is retried.
pick_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
'
}

write_config() {
  local ca_data
  ca_data="$(base64 -w0 <"$PKI/ca.crt")"
  cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: oxeye-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $ca_data
users:
- name: admin
  user:
    token: $TOKEN
contexts:
- name: oxeye-e2e
  context:
    cluster: oxeye-e2e
    user: admin
    namespace: default
current-context: oxeye-e2e
EOF
  chmod 600 "$DIR/kubeconfig"
  write_env
}

# DIR/env: KEY=VALUE lines, sourceable by a shell and parsed by the Rust fixture.
write_env() {
  local name var
  {
    echo "KUBECONFIG=$DIR/kubeconfig"
    echo "APISERVER_URL=https://127.0.0.1:$APISERVER_PORT"
    echo "TOKEN=$TOKEN"
    echo "CA_CERT=$PKI/ca.crt"
    echo "ETCD_URL=http://127.0.0.1:$ETCD_CLIENT_PORT"
    echo "KUBE_CONTROLLER_MANAGER_PORT=$KCM_PORT"
    echo "HELM=$HELM"
    echo "KUBECTL=$KUBECTL"
    for name in "${CONTROL_PLANE_PROCESSES[@]}"; do
      var="${name^^}"
      var="${var//-/_}_PID"
      if [ -f "$DIR/$name.pid" ]; then echo "$var=$(cat "$DIR/$name.pid")"; fi
    done
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
}

write_args() {
  local name=$1
  shift
  printf '%s\n' "$@" >"$DIR/$name.args"
}

# Returns 0 when all three are up, 1 on failure (after printing the relevant log).
start_all() {
  read -r ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT < <(pick_ports)
  write_config

  rm -rf "$DIR/etcd"
  write_args etcd "$ETCD" \
    --name=default \
    --data-dir="$DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT"
  cp_spawn "$DIR" etcd
  if ! cp_wait "$DIR" etcd 30 "etcd health" \
    curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health"; then
    cp_tail_log "$DIR/etcd.log"
    return 1
  fi

  write_args kube-apiserver "$KUBE_APISERVER" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" \
    --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --token-auth-file="$PKI/tokens.csv" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --authorization-mode=Node,RBAC \
    --service-cluster-ip-range=10.0.0.0/24 \
    --enable-admission-plugins=NamespaceLifecycle,ServiceAccount
  cp_spawn "$DIR" kube-apiserver
  write_env
  if ! cp_wait "$DIR" kube-apiserver 120 "kube-apiserver /readyz" cp_apiserver_ready "$DIR"; then
    cp_tail_log "$DIR/kube-apiserver.log"
    return 1
  fi

  # --port=0: 1.20 also serves an insecure port, fixed at 0.0.0.0:10252 unless disabled, which
  # would make a second control plane on the machine fail.
  write_args kube-controller-manager "$KUBE_CONTROLLER_MANAGER" \
    --kubeconfig="$DIR/kubeconfig" \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --leader-elect=false \
    --controllers='*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder' \
    --bind-address=127.0.0.1 \
    --secure-port="$KCM_PORT" \
    --port=0
  cp_spawn "$DIR" kube-controller-manager
  write_env
  # The ServiceAccount admission plugin refuses Pods until the namespace's `default`
  # ServiceAccount exists; the controller manager creates it.
  if ! cp_wait "$DIR" kube-controller-manager 120 "the default ServiceAccount" \
    cp_api_get "$DIR" /api/v1/namespaces/default/serviceaccounts/default; then
    cp_tail_log "$DIR/kube-controller-manager.log"
    return 1
  fi
}

started_at=$SECONDS
for attempt in 1 2 3; do
  rm -f "$DIR"/*.log
  if start_all; then
    break
  fi
  stop_all
  if [ "$attempt" -lt 3 ] && grep -qs "address already in use" "$DIR"/*.log; then
    cp_log "a port was taken by another process meanwhile; retrying with new ports"
    continue
  fi
  exit 1
done

if [ -n "${OXEYE_CONTROL_PLANE_OWNER_PID:-}" ]; then
  remove_dir=()
  [ "${OXEYE_CONTROL_PLANE_REMOVE_DIR:-0}" = 1 ] && remove_dir=(--remove-dir)
  # setsid: a Ctrl-C aimed at the test process group must not also kill the watchdog.
  setsid bash "$HERE/watchdog.sh" "$DIR" "$OXEYE_CONTROL_PLANE_OWNER_PID" "${remove_dir[@]}" \
    </dev/null >/dev/null 2>&1 9>&- &
  echo $! >"$DIR/watchdog.pid"
fi

succeeded=1
cp_log "control plane up in $((SECONDS - started_at)) s: https://127.0.0.1:$APISERVER_PORT"
cp_log "  kubeconfig: $DIR/kubeconfig"
cp_log "  env:        $DIR/env"
cp_log "  logs:       $DIR/{etcd,kube-apiserver,kube-controller-manager}.log"
