#!/usr/bin/env bash
# Tools only the benchmark needs (not CI, not the tests), installed idempotently from Debian packages:
#   - awscli: the lifecycle case's naive baseline runs Debian's `aws s3 cp` (/usr/bin/aws; a pip-installed `aws`
#     elsewhere on PATH is a different program and is not used),
#   - sysstat: `pidstat`, to watch CPU per process by hand while a case runs (the bench itself reads /proc).
set -euo pipefail

log() { printf '[install-bench-tools] %s\n' "$*" >&2; }
die() {
  printf '[install-bench-tools] ERROR: %s\n' "$*" >&2
  exit 1
}
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*  (run this script as root, or install the Debian packages awscli and sysstat yourself)"
  fi
}

missing=()
[[ -x /usr/bin/aws ]] || missing+=(awscli)
command -v pidstat >/dev/null || missing+=(sysstat)
if [[ ${#missing[@]} -eq 0 ]]; then
  log "awscli and sysstat present"
  exit 0
fi
command -v apt-get >/dev/null || die "no apt-get here: install ${missing[*]} (Debian/Ubuntu package names) yourself"
log "apt-get update"
as_root apt-get update -qq || die "apt-get update failed; the Debian package mirror must be reachable"
log "apt-get install ${missing[*]}"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  die "apt-get install ${missing[*]} failed"
[[ -x /usr/bin/aws ]] || die "awscli installed but /usr/bin/aws is missing"
log "installed ${missing[*]}"
