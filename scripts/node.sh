#!/usr/bin/env bash
# Custody's runtime is Node.js 24 LTS. This puts a Node ≥ 24 first on PATH — the machine's own when it is new
# enough, else the one scripts/install-tools.sh installed into the tools folder — so that our code and every
# `node` it starts (jest and its workers, the workers, the CLI, the dev stack) run on it.
#   bash scripts/node.sh <command> [args…]   runs the command with that PATH (e.g. `jest`, `node dist/cli/main.js`)
#   source scripts/node.sh                   changes PATH of the calling bash script (.ci/run, scripts/dev.sh)
# Exits non-zero, saying how to get Node 24, when there is none.

custody_use_node24() {
  local required_major=24 repo_root tools_dir version
  repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  tools_dir="${CUSTODY_TOOLS_DIR:-$repo_root/.tools}"
  version="$(node --version 2>/dev/null || true)"
  version="${version#v}"
  if [[ -n $version ]] && ((${version%%.*} >= required_major)); then
    return 0
  fi
  if [[ -x $tools_dir/node/bin/node ]]; then
    PATH="$tools_dir/node/bin:$PATH"
    export PATH
    return 0
  fi
  printf 'custody needs Node.js >= %s; this machine has %s. Run `bash scripts/install-tools.sh` (it installs Node %s
into %s/node), or install Node %s LTS.\n' "$required_major" "${version:-no node}" "$required_major" "$tools_dir" \
    "$required_major" >&2
  return 1
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  custody_use_node24 || exit 1
  unset -f custody_use_node24
else
  set -euo pipefail
  custody_use_node24
  exec "$@"
fi
