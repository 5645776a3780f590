#!/usr/bin/env bash
# Builds the helm v3 CLI once per user from its Go module (no Debian package exists and
# no binary download is needed: the Go module proxy serves the source), and prints the
# folder holding `helm` on its last line. The chart test (test/unit/install) uses it.
set -euo pipefail
version="${KOSMOS_HELM_VERSION:-v3.19.0}"
dir="${HOME}/.cache/kosmos/helm-${version}"
if [[ ! -x "${dir}/helm" ]]; then
  mkdir -p "${dir}"
  echo "building helm ${version} into ${dir} (about 3 minutes the first time)" >&2
  GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="${dir}" go install "helm.sh/helm/v3/cmd/helm@${version}" >&2
fi
echo "${dir}"
