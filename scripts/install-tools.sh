#!/usr/bin/env bash
# Installs the real servers and tools custody's dev stack and tests use, idempotently:
#   - ffmpeg/ffprobe, promtool and the aws CLI from Debian packages (only when absent),
#   - the Temporal CLI (dev server) and versitygw (S3 with Object Lock), built with `go install` at pinned versions
#     into the git-ignored tools folder (.tools/bin, or $CUSTODY_TOOLS_DIR/bin), skipped when already present.
# Exits non-zero with a message that says exactly what to install when something cannot be had.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${CUSTODY_TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"
mkdir -p "$bin_dir"

TEMPORAL_CLI_VERSION=v1.5.1 # v1.6+ carry a replace directive and cannot be go-installed
VERSITYGW_VERSION=v1.7.0

log() { printf '[install-tools] %s\n' "$*" >&2; }
die() {
  printf '[install-tools] ERROR: %s\n' "$*" >&2
  exit 1
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*  (run this script as root, or install the packages yourself)"
  fi
}

apt_updated=false
apt_install() {
  command -v apt-get >/dev/null ||
    die "missing $* and no apt-get here: install the Debian/Ubuntu packages '$*' (or their equivalents) yourself"
  if [[ $apt_updated == false ]]; then
    log "apt-get update"
    as_root apt-get update -qq || die "apt-get update failed; the Debian package mirror must be reachable"
    apt_updated=true
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    die "apt-get install $* failed"
}

# --- Debian packages -------------------------------------------------------------------------------------------
missing_packages=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing_packages+=(ffmpeg)
command -v promtool >/dev/null || missing_packages+=(prometheus)
command -v openssl >/dev/null || missing_packages+=(openssl)
if ((${#missing_packages[@]})); then apt_install "${missing_packages[@]}"; fi

# --- Go-built servers ------------------------------------------------------------------------------------------
go_bin="$(command -v go || true)"
[[ -z $go_bin && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go

# go_tool NAME MODULE@VERSION: builds MODULE into $bin_dir/NAME unless the stamp says that version is there.
go_tool() {
  local name=$1 pkg=$2
  local version=${pkg##*@} stamp="$bin_dir/.$name.version"
  if [[ -x $bin_dir/$name && -f $stamp && $(<"$stamp") == "$pkg" ]]; then
    return 0
  fi
  [[ -n $go_bin ]] || die "Go is not installed, so $name cannot be built. Install Go ≥ 1.26 (https://go.dev/dl, or a
  distribution package of that version) and put 'go' on PATH, then run: bash scripts/install-tools.sh"
  log "building $name $version with go install (a few minutes on a cold cache)"
  local started=$SECONDS
  if ! GOBIN="$bin_dir" GOFLAGS="${GOFLAGS:-} -trimpath" "$go_bin" install "$pkg" >"$tools_dir/$name.build.log" 2>&1; then
    tail -n 20 "$tools_dir/$name.build.log" >&2
    die "go install $pkg failed (full log: $tools_dir/$name.build.log). It needs the Go module proxy; check GOPROXY and network."
  fi
  echo "$pkg" >"$stamp"
  log "built $name in $((SECONDS - started)) s"
}

go_tool temporal "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
go_tool versitygw "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"

# Kubernetes API server, etcd, Helm and kubeconform (for the platform tests) have their own script.
if [[ -f $repo_root/scripts/install-kube-tools.sh && ${CUSTODY_SKIP_KUBE_TOOLS:-} != 1 ]]; then
  bash "$repo_root/scripts/install-kube-tools.sh"
fi

log "tools ready in $bin_dir"
