#!/usr/bin/env bash
# Installs what mlbridge needs to build and test, idempotently and quietly:
#   - Debian packages (a C++ toolchain, Python venv support, JDK 17 and Maven)
#     with apt-get, as root (or with passwordless sudo);
#   - XGBoost's library and C API header (pinned, from PyPI, checked by sha256)
#     into ~/.cache/mlbridge/xgboost-<version>, outside the clone;
#   - the npm workspace's dependencies (npm ci) when package-lock.json changed.
# The Python virtual environment (clients/python/.venv) and Maven's
# dependencies are set up by those projects' own nx build targets.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'mlbridge setup: %s\n' "$*" >&2; }

# --- Node -------------------------------------------------------------------
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=17)?1:0)' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
  say "Node.js >= 20.17 is required (found: $(node --version 2>/dev/null || echo none))."
  exit 1
fi

# --- Debian packages --------------------------------------------------------
missing=()
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v clang-format >/dev/null || missing+=(clang-format)   # native lint (the addon's own C++)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v openssl >/dev/null || missing+=(openssl)
command -v go >/dev/null || missing+=(golang-go)          # builds the Lambda runtime emulator and versitygw
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)   # the gRPC balancer of the replica tests
# The Lambda runtime interface client (aws-lambda-ric) compiles curl with autotools.
command -v autoconf >/dev/null || missing+=(autoconf)
command -v automake >/dev/null || missing+=(automake)
command -v libtoolize >/dev/null || missing+=(libtool)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
  else
    say "missing Debian packages: ${missing[*]}"
    say "install them as root:  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]} with apt-get"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- XGBoost (the addon's library) --------------------------------------------
# Pinned, fetched from PyPI and checked by scripts/fetch-xgboost.sh, cached outside
# the clone (~/.cache/mlbridge/xgboost-<version>); instant once there.
bash scripts/fetch-xgboost.sh

# --- npm --------------------------------------------------------------------
stamp=node_modules/.mlbridge-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# --- versitygw (the S3-compatible server of the shared-store tests) ----------
# Built once with `go install` from the Go module proxy, outside the clone
# (~/.cache/mlbridge/bin; MLBRIDGE_VERSITYGW points elsewhere). ~3 minutes on 2 cores.
VERSITYGW_VERSION=v1.8.0
vgw="${MLBRIDGE_VERSITYGW:-$HOME/.cache/mlbridge/bin/versitygw}"
if [ ! -x "$vgw" ]; then
  if command -v go >/dev/null; then
    say "building versitygw $VERSITYGW_VERSION with go install (once, into $(dirname "$vgw"))"
    mkdir -p "$(dirname "$vgw")"
    if ! GOBIN="$(dirname "$vgw")" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >/tmp/mlbridge-versitygw-install.log 2>&1; then
      say "go install of versitygw failed (see /tmp/mlbridge-versitygw-install.log): the shared-store tests will be skipped"
    fi
  else
    say "no Go toolchain: versitygw not built, the shared-store tests will be skipped"
  fi
fi

# --- helm, kubeconform, kubernetes-validate (the chart check in npm test) -----
# Built or installed once, outside the clone, like versitygw: helm and kubeconform
# with `go install` into ~/.cache/mlbridge/bin (helm: ~3 minutes on 2 cores),
# kubernetes-validate (its Kubernetes JSON schemas) into a venv ~/.cache/mlbridge/kubernetes-validate.
HELM_VERSION=v4.3.2
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
bin="$HOME/.cache/mlbridge/bin"
go_tool() {   # NAME MODULE@VERSION
  [ -x "$bin/$1" ] && return 0
  if ! command -v go >/dev/null; then say "no Go toolchain: $1 not built, the chart tests will be skipped"; return 0; fi
  say "building $1 with go install (once, into $bin)"
  mkdir -p "$bin"
  GOBIN="$bin" go install "$2" >"/tmp/mlbridge-$1-install.log" 2>&1 ||
    say "go install of $1 failed (see /tmp/mlbridge-$1-install.log): the chart tests will be skipped"
}
go_tool helm "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
kv="$HOME/.cache/mlbridge/kubernetes-validate"
if [ ! -f "$kv/.mlbridge-$KUBERNETES_VALIDATE_VERSION" ]; then
  say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (its Kubernetes schemas) into $kv"
  rm -rf "$kv"
  if python3 -m venv "$kv" && "$kv/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >/tmp/mlbridge-kubernetes-validate-install.log 2>&1; then
    touch "$kv/.mlbridge-$KUBERNETES_VALIDATE_VERSION"
  else
    say "pip install of kubernetes-validate failed (see /tmp/mlbridge-kubernetes-validate-install.log): the chart tests will be skipped"
  fi
fi
