#!/usr/bin/env bash
# Builds CoreDNS (the sandbox's cluster DNS, image registry.k8s.io/coredns/coredns) once per
# user and version from its Go module, with the default plugin set (kubernetes, forward,
# reload, cache, errors, health, ready, loop, ...), as a static binary for a scratch image.
# Honours KOSMOS_CACHE_DIR / XDG_CACHE_HOME like build-control-plane.sh. Prints the folder
# holding `coredns` on its last line of stdout; progress goes to stderr.
set -euo pipefail
version="${KOSMOS_COREDNS_VERSION:-v1.15.0}"
cache_root="${KOSMOS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kosmos}"
dir="${cache_root}/coredns-${version}"
if [[ ! -x "${dir}/coredns" ]]; then
  command -v go >/dev/null 2>&1 || {
    echo "Go is not installed: install it (apt-get install golang-go, or https://go.dev/dl) and run again" >&2
    exit 1
  }
  mkdir -p "${dir}"
  # One build at a time (two callers at once, e.g. bootstrap and a test, share the result).
  exec 9>"${dir}/.lock"
  flock 9
  if [[ ! -x "${dir}/coredns" ]]; then
    echo "building coredns ${version} into ${dir} (a few minutes the first time)" >&2
    # go install writes the binary only when the build succeeded, so a failed build leaves no
    # half-written coredns behind for the next run to trust.
    GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod GOBIN="${dir}" go install -trimpath \
      -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${version}" \
      "github.com/coredns/coredns@${version}" >&2
  fi
fi
echo "${dir}"
