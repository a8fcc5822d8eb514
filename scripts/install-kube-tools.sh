#!/usr/bin/env bash
# Installs the Kubernetes tooling the platform tests use, idempotently, into the git-ignored tools folder
# (.tools/bin, or $CUSTODY_TOOLS_DIR/bin):
#   - kube-apiserver, built from the wrapper module scripts/kube (k8s.io/kubernetes + pinned staging modules),
#   - etcd, built from the wrapper module scripts/kube/etcd (go.etcd.io/etcd/server/v3),
#   - helm and kubeconform, built with `go install` at pinned versions,
#   - offline JSON schemas for kubeconform from the PyPI package kubernetes-validate, and the wrapper
#     `kubeconform-offline` that points kubeconform at them (validating manifests needs no network).
# Each tool is skipped when its stamp file (.NAME.version next to it) says the pinned version is there.
# Cold build times are appended to .tools/build-logs/build-times.log.
# Exits non-zero with a message that says exactly what to install when something cannot be had.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
tools_dir="${CUSTODY_TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"
log_dir="$tools_dir/build-logs"
mkdir -p "$bin_dir" "$log_dir"
tools_dir="$(cd "$tools_dir" && pwd)"
bin_dir="$tools_dir/bin"

kube_module_dir="$script_dir/kube"      # its go.mod pins the Kubernetes version
etcd_module_dir="$script_dir/kube/etcd" # its go.mod pins the etcd version
HELM_VERSION=v3.21.4
HELM_KUBERNETES_MINOR=36 # k8s.io/client-go v0.36.x in helm v3.21.4's go.mod; `helm template` reports Kubernetes 1.36
KUBECONFORM_VERSION=v0.7.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# The schema version kubeconform-offline uses unless told otherwise (kubernetes-validate ships X.Y.0 folders).
KUBECONFORM_DEFAULT_KUBERNETES_VERSION=1.35.0
MINIMUM_GO_VERSION=1.26 # etcd v3.6.16 and helm v3.21.4 declare `go 1.26.0`

log() { printf '[install-kube-tools] %s\n' "$*" >&2; }
die() {
  printf '[install-kube-tools] ERROR: %s\n' "$*" >&2
  exit 1
}

# --- Go ----------------------------------------------------------------------------------------------------------
go_bin="$(command -v go || true)"
[[ -z $go_bin && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go

require_go() {
  local purpose=$1
  [[ -n $go_bin ]] || die "Go is not installed, so $purpose cannot be built. Install Go >= $MINIMUM_GO_VERSION
  (https://go.dev/dl: unpack to /usr/local/go and put /usr/local/go/bin on PATH), then run:
  bash scripts/install-kube-tools.sh"
  local have
  have="$("$go_bin" env GOVERSION)"
  have="${have#go}"
  if [[ $(printf '%s\n%s\n' "$MINIMUM_GO_VERSION" "$have" | sort -V | head -n1) != "$MINIMUM_GO_VERSION" ]]; then
    die "Go $have is too old to build $purpose. Install Go >= $MINIMUM_GO_VERSION (https://go.dev/dl) and put it
  on PATH (or set GOTOOLCHAIN=go$MINIMUM_GO_VERSION.0 to let go fetch it), then run: bash scripts/install-kube-tools.sh"
  fi
}

# The version a wrapper module requires of one dependency: its go.mod is the single source of truth. Read with
# awk, not `go list`, so that an install whose stamps match needs no Go at all.
module_version() {
  local version
  version="$(awk -v module="$2" '
    $1 == "require" && $2 == module { print $3; exit }
    $1 == module && $2 ~ /^v[0-9]/ && $3 != "=>" { print $2; exit }' "$1/go.mod")"
  [[ -n $version ]] || die "$1/go.mod does not require $2; restore it from git"
  printf '%s\n' "$version"
}

# A fingerprint of a wrapper module's go.mod and go.sum, so that any changed pin rebuilds the binary.
module_fingerprint() {
  cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16
}

# A fingerprint of the build flags, so that a changed recipe (e.g. new -X stamps) rebuilds the binary too.
flags_fingerprint() {
  printf '%s' "$*" | sha256sum | cut -c1-8
}

is_installed() {
  local name=$1 wanted=$2 stamp="$bin_dir/.$1.version"
  [[ -x $bin_dir/$name && -f $stamp && $(<"$stamp") == "$wanted" ]]
}

# run_build NAME STAMP COMMAND...: COMMAND leaves the binary at $bin_dir/NAME.partial; on success it is moved
# into place (so an interrupted build never looks installed), the stamp is written and the duration logged.
run_build() {
  local name=$1 stamp_value=$2
  shift 2
  local build_log="$log_dir/$name.log" started=$SECONDS
  log "building $name ($stamp_value), a few minutes on a cold Go cache; log: $build_log"
  if ! "$@" >"$build_log" 2>&1; then
    tail -n 25 "$build_log" >&2
    rm -f "$bin_dir/$name.partial"
    die "building $name failed (full log: $build_log). It needs Go >= $MINIMUM_GO_VERSION, the Go module proxy
  (GOPROXY, default https://proxy.golang.org) and its checksum database, about 5 GB free disk for the module
  and build caches, and about 3 GB of RAM. Fix that, then run: bash scripts/install-kube-tools.sh"
  fi
  mv -f "$bin_dir/$name.partial" "$bin_dir/$name"
  printf '%s\n' "$stamp_value" >"$bin_dir/.$name.version"
  local took=$((SECONDS - started))
  log "built $name in ${took} s"
  printf '%s %s %ss %s\n' "$(date -u +%FT%TZ)" "$name" "$took" "$stamp_value" >>"$log_dir/build-times.log"
}

# go_build_in_module MODULE_DIR NAME PACKAGE LDFLAGS: `go build` a main package from a wrapper module (its go.sum
# verifies every dependency).
go_build_in_module() {
  (cd "$1" && CGO_ENABLED=0 "$go_bin" build -trimpath -ldflags "$4" -o "$bin_dir/$2.partial" "$3")
}

# go_install_to_partial NAME PACKAGE@VERSION LDFLAGS: `go install` into a scratch GOBIN, then to NAME.partial.
go_install_to_partial() {
  local name=$1 pkg=$2 ldflags=$3 scratch
  scratch="$(mktemp -d "$tools_dir/.gobin.XXXXXX")"
  if GOBIN="$scratch" CGO_ENABLED=0 "$go_bin" install -trimpath -ldflags "$ldflags" "$pkg"; then
    mv -f "$scratch/$name" "$bin_dir/$name.partial"
    rm -rf "$scratch"
  else
    rm -rf "$scratch"
    return 1
  fi
}

# --- kube-apiserver ----------------------------------------------------------------------------------------------
install_kube_apiserver() {
  local version
  version="$(module_version "$kube_module_dir" k8s.io/kubernetes)"
  local minor=${version#v1.}
  minor=${minor%%.*}
  # The version variables the Kubernetes release build sets, so /version reports the real release.
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  local stamp="k8s.io/kubernetes@$version go.sum:$(module_fingerprint "$kube_module_dir")"
  stamp+=" flags:$(flags_fingerprint "$ldflags")"
  if is_installed kube-apiserver "$stamp"; then
    log "kube-apiserver $version already installed"
    return 0
  fi
  require_go kube-apiserver
  run_build kube-apiserver "$stamp" \
    go_build_in_module "$kube_module_dir" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
}

# --- etcd --------------------------------------------------------------------------------------------------------
install_etcd() {
  local version ldflags="-s -w"
  version="$(module_version "$etcd_module_dir" go.etcd.io/etcd/server/v3)"
  local stamp="go.etcd.io/etcd/server/v3@$version go.sum:$(module_fingerprint "$etcd_module_dir")"
  stamp+=" flags:$(flags_fingerprint "$ldflags")"
  if is_installed etcd "$stamp"; then
    log "etcd $version already installed"
    return 0
  fi
  require_go etcd
  # The module root of go.etcd.io/etcd/server/v3 is etcd's main package (server/main.go).
  run_build etcd "$stamp" go_build_in_module "$etcd_module_dir" etcd go.etcd.io/etcd/server/v3 "$ldflags"
}

# --- helm --------------------------------------------------------------------------------------------------------
install_helm() {
  local pkg="helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  # Helm's release build stamps its version and the Kubernetes version of its default capabilities (the minor of
  # the k8s.io/client-go it is built with: v0.36 for v3.21.4); without them `helm template` claims v1.20.
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local package_path
  for package_path in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $package_path.k8sVersionMajor=1 -X $package_path.k8sVersionMinor=$HELM_KUBERNETES_MINOR"
  done
  local stamp
  stamp="$pkg flags:$(flags_fingerprint "$ldflags")"
  if is_installed helm "$stamp"; then
    log "helm $HELM_VERSION already installed"
    return 0
  fi
  require_go helm
  run_build helm "$stamp" go_install_to_partial helm "$pkg" "$ldflags"
}

# --- kubeconform -------------------------------------------------------------------------------------------------
KUSTOMIZE_VERSION=v5.8.2 # v5.8.3 declares go 1.27
install_kustomize() {
  local pkg="sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" ldflags="-s -w" stamp
  stamp="$pkg flags:$(flags_fingerprint "$ldflags")"
  if is_installed kustomize "$stamp"; then
    log "kustomize $KUSTOMIZE_VERSION already installed"
    return 0
  fi
  require_go kustomize
  run_build kustomize "$stamp" go_install_to_partial kustomize "$pkg" "$ldflags"
}

install_kubeconform() {
  local pkg="github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  local ldflags="-s -w -X main.version=$KUBECONFORM_VERSION"
  local stamp
  stamp="$pkg flags:$(flags_fingerprint "$ldflags")"
  if is_installed kubeconform "$stamp"; then
    log "kubeconform $KUBECONFORM_VERSION already installed"
    return 0
  fi
  require_go kubeconform
  run_build kubeconform "$stamp" go_install_to_partial kubeconform "$pkg" "$ldflags"
}

# --- offline schemas for kubeconform -----------------------------------------------------------------------------
schemas_dir="$tools_dir/kubeconform-schemas"
# Bump the layout number when the rewrite below changes, so existing installs are redone.
schemas_stamp="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION layout:1"

install_kubeconform_schemas() {
  if [[ -f $schemas_dir/.version && $(<"$schemas_dir/.version") == "$schemas_stamp" ]]; then
    log "kubeconform schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION) already installed"
    return 0
  fi
  command -v python3 >/dev/null ||
    die "python3 is missing; it is needed to fetch the kubeconform schemas. Install it (Debian: apt-get install
  python3 python3-pip), then run: bash scripts/install-kube-tools.sh"
  python3 -m pip --version >/dev/null 2>&1 ||
    die "pip is missing for python3; it is needed to fetch the kubeconform schemas from PyPI. Install it (Debian:
  apt-get install python3-pip), then run: bash scripts/install-kube-tools.sh"
  local download_dir="$tools_dir/cache/pypi"
  local wheel="$download_dir/kubernetes_validate-$KUBERNETES_VALIDATE_VERSION-py3-none-any.whl"
  mkdir -p "$download_dir"
  if [[ ! -f $wheel ]]; then
    log "downloading kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI (schemas only, not installed)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$download_dir" \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ||
      die "pip download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed; PyPI (or the PIP_INDEX_URL
  mirror) must be reachable"
  fi
  if [[ $(sha256sum "$wheel" | cut -d' ' -f1) != "$KUBERNETES_VALIDATE_SHA256" ]]; then
    rm -f "$wheel"
    die "the downloaded kubernetes-validate wheel does not have the pinned SHA-256 $KUBERNETES_VALIDATE_SHA256;
  removed it. Check the PyPI mirror, then run: bash scripts/install-kube-tools.sh"
  fi
  local staging="$schemas_dir.partial"
  rm -rf "$staging"
  # kubernetes-validate's schemas carry "$id": "https://kubernetes.io/api/..." and "$ref": "/api/_definitions.json#..."
  # which a JSON-Schema loader resolves to https://kubernetes.io/api/_definitions.json, i.e. over the network.
  # Dropping the $id and making the $ref relative lets kubeconform find _definitions.json next to each file.
  python3 - "$wheel" "$staging" <<'PYTHON'
import json, os, sys, zipfile

wheel_path, target_dir = sys.argv[1], sys.argv[2]
prefix = "kubernetes_validate/kubernetes-json-schema/"
count = 0
with zipfile.ZipFile(wheel_path) as wheel:
    for entry in wheel.infolist():
        if not entry.filename.startswith(prefix) or not entry.filename.endswith(".json"):
            continue
        schema = json.loads(wheel.read(entry))
        if isinstance(schema, dict):
            schema.pop("$id", None)
        text = json.dumps(schema, separators=(",", ":"))
        text = text.replace('"/api/_definitions.json#', '"_definitions.json#')
        destination = os.path.join(target_dir, entry.filename[len(prefix):])
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        with open(destination, "w", encoding="utf-8") as out:
            out.write(text)
        count += 1
if count == 0:
    sys.exit(f"no schemas found under {prefix} in {wheel_path}")
print(f"wrote {count} schema files", file=sys.stderr)
PYTHON
  rm -rf "$schemas_dir"
  mv "$staging" "$schemas_dir"
  printf '%s\n' "$schemas_stamp" >"$schemas_dir/.version"
}

write_kubeconform_offline() {
  local wrapper="$bin_dir/kubeconform-offline"
  cat >"$wrapper.partial" <<EOF
#!/usr/bin/env bash
# Written by scripts/install-kube-tools.sh: kubeconform with the offline schemas of kubernetes-validate
# $KUBERNETES_VALIDATE_VERSION (Kubernetes 1.25.0 ... 1.37.0, X.Y.0 only). Defaults to Kubernetes
# $KUBECONFORM_DEFAULT_KUBERNETES_VERSION; a later -kubernetes-version X.Y.0 on the command line wins. Add -strict to
# reject unknown fields. Example: helm template helm/custody | kubeconform-offline -strict -summary -
set -euo pipefail
tools_dir="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")/.." && pwd)"
exec "\$tools_dir/bin/kubeconform" \\
  -schema-location "\$tools_dir/kubeconform-schemas/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \\
  -kubernetes-version "\${KUBECONFORM_KUBERNETES_VERSION:-$KUBECONFORM_DEFAULT_KUBERNETES_VERSION}" "\$@"
EOF
  chmod +x "$wrapper.partial"
  mv -f "$wrapper.partial" "$wrapper"
}

# Proves the schemas work without a network: a valid Deployment passes, one with a wrong field type fails.
verify_kubeconform_offline() {
  local valid invalid
  valid='apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec: {containers: [{name: probe, image: "busybox:1.37"}]}'
  invalid="${valid/replicas: 1/replicas: \"one\"}"
  # A proxy that refuses every connection: any attempt to fetch a schema over the network fails loudly.
  local offline=(env HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=)
  local output
  if ! output="$(printf '%s\n' "$valid" | "${offline[@]}" "$bin_dir/kubeconform-offline" -strict -summary - 2>&1)" ||
    [[ $output != *"Valid: 1"* ]]; then
    die "kubeconform-offline did not validate a plain Deployment offline: $output
  Remove $schemas_dir and run: bash scripts/install-kube-tools.sh"
  fi
  if output="$(printf '%s\n' "$invalid" | "${offline[@]}" "$bin_dir/kubeconform-offline" -strict -summary - 2>&1)"; then
    die "kubeconform-offline accepted a Deployment with replicas: \"one\"; the schemas are not applied: $output"
  fi
  log "kubeconform-offline validates offline (Kubernetes $KUBECONFORM_DEFAULT_KUBERNETES_VERSION schemas)"
}

# Sequential on purpose: one Go build at a time (each already uses every core).
install_etcd
install_kube_apiserver
install_kubeconform
install_helm
install_kustomize
install_kubeconform_schemas
write_kubeconform_offline
verify_kubeconform_offline
log "kubernetes tools ready in $bin_dir: kube-apiserver, etcd, helm, kubeconform, kubeconform-offline"
