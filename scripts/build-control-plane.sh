#!/usr/bin/env bash
# Builds the upstream control-plane binaries the sandbox runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd, kwok, and a kubectl of the same version;
# kube-proxy and kubelet for the sandbox's real nodes; containerd, its runc shim and ctr, the nodes'
# container runtime) from their Go modules into a per-user cache keyed by version, so every clone
# and every CI run reuses one build.
#
# Honours KUBEBUILDER_ASSETS / KOSMOS_K8S_BIN: when either names a folder that already
# holds every binary, nothing is built and that folder is printed.
# Prints the folder holding the binaries on its last line of stdout; progress goes to stderr.
set -euo pipefail

K8S_VERSION="${KOSMOS_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${KOSMOS_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KOSMOS_KWOK_VERSION:-v0.8.0}"
# containerd 2: pod network namespaces under its own state dir (netns_mounts_under_state_dir), so a
# sandbox's teardown never meets another runtime's /run/netns entries; kubelet 1.37 needs it too.
CONTAINERD_VERSION="${KOSMOS_CONTAINERD_VERSION:-v2.2.9}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet etcd kwok containerd containerd-shim-runc-v2 ctr)

log() { printf '[build-control-plane] %s\n' "$*" >&2; }

has_all() {
  local dir="$1"
  for b in "${BINARIES[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

for var in KOSMOS_K8S_BIN KUBEBUILDER_ASSETS; do
  dir="${!var:-}"
  if [[ -n "$dir" ]]; then
    if has_all "$dir"; then log "using prebuilt binaries from $var=$dir"; echo "$dir"; exit 0; fi
    log "$var=$dir lacks some of: ${BINARIES[*]}; building the missing ones instead"
  fi
done

CACHE_ROOT="${KOSMOS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kosmos}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
if has_all "$OUT/bin" && [[ -x "$OUT/bin/kubectl" ]]; then log "cached in $OUT/bin"; echo "$OUT/bin"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  log "Go is not installed: install it (apt-get install golang-go, or https://go.dev/dl) and run again"
  exit 1
fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$OUT/bin" "$OUT/src"
# One build at a time keeps the 2-core, memory-bounded machine responsive.
exec 9>"$OUT/.lock"
flock 9
if has_all "$OUT/bin" && [[ -x "$OUT/bin/kubectl" ]]; then echo "$OUT/bin"; exit 0; fi

step=0; total=5
progress() { step=$((step + 1)); log "[$step/$total] $* ($(date -u +%T))"; }

build_kubernetes() {
  local dir="$OUT/src/kubernetes" minor staging gomod
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  staging="v0.${K8S_VERSION#v1.}"
  mkdir -p "$dir"
  progress "resolving k8s.io/kubernetes@$K8S_VERSION and its staging modules"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || { log "could not download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  {
    echo "module local/kosmos-k8sbins"
    echo
    grep -E '^go [0-9]' "$gomod"
    grep -E '^godebug ' "$gomod" || true
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    # Every staging module is required at v0.0.0 and only resolvable through replace lines.
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
      awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > "$dir/go.mod"
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$dir" && go mod tidy -e >&2 2>"$dir/tidy.log" || { cat "$dir/tidy.log" >&2; exit 1; })
  progress "building kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubelet, kubectl $K8S_VERSION (several minutes)"
  local ld="-s -w" k
  for k in "gitVersion=$K8S_VERSION" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" "buildDate=$(date -u +%FT%TZ)"; do
    ld="$ld -X k8s.io/component-base/version.$k -X k8s.io/client-go/pkg/version.$k"
  done
  (cd "$dir" && go build -p 2 -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ld" -o "$OUT/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  local dir="$OUT/src/etcd"
  progress "building etcd $ETCD_VERSION"
  mkdir -p "$dir"
  # A wrapper of its own: etcd's requirements would otherwise move kubernetes' grpc/otel versions.
  cat > "$dir/go.mod" <<GOMOD
module local/kosmos-etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  (cd "$dir" && go mod tidy -e >&2 && go build -trimpath -ldflags "-s -w" -o "$OUT/bin/etcd" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  progress "building kwok $KWOK_VERSION"
  GOBIN="$OUT/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

build_containerd() {
  local dir="$OUT/src/containerd" tags="no_btrfs no_devmapper no_zfs urfave_cli_no_docs osusergo netgo static_build"
  progress "building containerd $CONTAINERD_VERSION, containerd-shim-runc-v2 and ctr"
  mkdir -p "$dir"
  cat > "$dir/go.mod" <<GOMOD
module local/kosmos-containerd

go 1.26

require github.com/containerd/containerd/v2 $CONTAINERD_VERSION
GOMOD
  cat > "$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
GO
  local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
  (cd "$dir" && go mod tidy -e >&2 &&
    go build -trimpath -tags "$tags" -ldflags "$ld" -o "$OUT/bin/" \
      github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr &&
    go build -trimpath -tags "$tags no_grpc" -ldflags "$ld" -o "$OUT/bin/" \
      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
}

[[ -x "$OUT/bin/etcd" ]] || build_etcd
[[ -x "$OUT/bin/containerd" && -x "$OUT/bin/ctr" && -x "$OUT/bin/containerd-shim-runc-v2" ]] || build_containerd
[[ -x "$OUT/bin/kwok" ]] || build_kwok
if [[ ! -x "$OUT/bin/kube-apiserver" || ! -x "$OUT/bin/kube-controller-manager" || ! -x "$OUT/bin/kube-scheduler" || ! -x "$OUT/bin/kube-proxy" || ! -x "$OUT/bin/kubelet" || ! -x "$OUT/bin/kubectl" ]]; then
  build_kubernetes
fi
has_all "$OUT/bin" || { log "build finished but binaries are missing in $OUT/bin"; exit 1; }
log "done: $OUT/bin"
echo "$OUT/bin"
