#!/usr/bin/env bash
# Debian packages Kosmos' sandbox, lab and tests use. Installs only what is missing.
set -euo pipefail
# runc, containernetworking-plugins (bridge, host-local, portmap, loopback) and conntrack: the
# sandbox's real nodes. mmdebstrap builds the images' Debian roots (kosmosctl image build);
# skopeo pushes an image archive to a registry and reads one in the image test.
PACKAGES=(redis-server iptables iproute2 iputils-ping iperf3 bridge-utils dnsutils procps util-linux runc containernetworking-plugins conntrack mmdebstrap skopeo)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "Go is required to build the control plane: apt-get install golang-go, or https://go.dev/dl" >&2; exit 1; }
