#!/usr/bin/env bash
# `npm test`: every test (unit, integration against real Redis and kernels, e2e against the
# real control plane), after making sure everything they need is installed and built.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PATH"
madge --circular --extensions ts --ts-config tsconfig.json src
exec vitest run "$@"
