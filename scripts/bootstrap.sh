#!/usr/bin/env bash
# Makes a fresh clone runnable: Debian packages, the upstream control plane (built once per
# user and version), npm packages, and the compiled TypeScript. Each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[bootstrap] %s\n' "$*" >&2; }

bash scripts/install-system-deps.sh
bash scripts/build-control-plane.sh >/dev/null
# helm, for the chart test (built once per user, like the control plane).
bash scripts/build-helm.sh >/dev/null
# CoreDNS, the cluster DNS image of the sandbox's real nodes (built once per user and version).
bash scripts/build-coredns.sh >/dev/null
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund >&2
fi
# npm runs scripts with the machine's Node; the project's own Node 24 is in node_modules/.bin.
export PATH="$PWD/node_modules/.bin:$PATH"
say "compiling TypeScript"
tsc -p tsconfig.build.json
chmod +x dist/cli/main.js
