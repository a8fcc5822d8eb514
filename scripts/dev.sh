#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and starts the whole stack with a demo (scripts/dev-stack.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CUSTODY_SKIP_KUBE_TOOLS=1 bash scripts/install-tools.sh
source scripts/node.sh # Node 24 first on PATH: the stack, its workers and the CLI run on it
[[ -d node_modules/@temporalio/worker ]] || npm install --no-audit --no-fund
npm run -s build
exec node dist/scripts/dev-stack.js "$@"
