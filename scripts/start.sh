#!/usr/bin/env bash
# `npm start [-- --topology FILE | --leaves N | --bare]`: a working local multi-cluster Kosmos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec "$PWD/node_modules/.bin/node" dist/cli/main.js sandbox up --with-guide "$@"
