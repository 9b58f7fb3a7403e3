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
# libxgboost.so (and the libgomp it was linked with) from the PyPI wheel
# xgboost-cpu (manylinux_2_28), its C API header from the PyPI sdist of the same
# version; both pinned by sha256. Cached outside the clone in
# ~/.cache/mlbridge/xgboost-$XGBOOST_VERSION (MLBRIDGE_XGBOOST_DIR points elsewhere):
#   lib/xgboost/lib/libxgboost.so, lib/xgboost_cpu.libs/libgomp-*.so.1.0.0 (the
#   wheel's layout: libxgboost's RPATH is $ORIGIN/../../xgboost_cpu.libs),
#   include/xgboost/c_api.h, LICENSE.
# native/binding.gyp links against it and copies the libraries next to mlbridge.node.
# The sdist is unpacked by pip itself (`pip wheel --no-clean`, which fails by
# design at the build step: no system libxgboost is asked for), because
# `pip download` of it compiles the whole library to read its metadata (~6 min).
XGBOOST_VERSION=3.2.0
XGBOOST_WHEEL_SHA256=9c10b1653e1a689bf4094a328144cf3633c9be0e5217a76fbdc2fde6abcb2950  # xgboost_cpu-3.2.0-py3-none-manylinux_2_28_x86_64.whl
XGBOOST_SDIST_SHA256=99b0e9a2a64896cdaf509c5e46372d336c692406646d20f2af505003c0c5d70d  # xgboost-3.2.0.tar.gz
XGBOOST_GOMP=libgomp-e985bcbb.so.1.0.0
xgb="${MLBRIDGE_XGBOOST_DIR:-$HOME/.cache/mlbridge/xgboost-$XGBOOST_VERSION}"
xgb_stamp="$xgb/.mlbridge-$XGBOOST_VERSION-${XGBOOST_WHEEL_SHA256:0:12}-${XGBOOST_SDIST_SHA256:0:12}"
if [ ! -f "$xgb_stamp" ]; then
  [ "$(uname -m)" = x86_64 ] || { say "XGBoost: only x86_64 Linux is set up (the pinned wheel is manylinux_2_28_x86_64); found $(uname -m)"; exit 1; }
  say "fetching XGBoost $XGBOOST_VERSION (libxgboost from the xgboost-cpu wheel, headers from the sdist) into $xgb"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  xgb_log="$scratch/log"
  fail() { say "XGBoost $XGBOOST_VERSION: $*"; say "pip's output:"; sed 's/^/  /' "$xgb_log" >&2 || true; exit 1; }
  # pip: Debian's python3 has none of its own until python3-pip; a throwaway venv has one.
  pip=(python3 -m pip)
  if ! python3 -m pip --version >/dev/null 2>&1; then
    python3 -m venv "$scratch/venv" >"$xgb_log" 2>&1 || fail "could not make a venv for pip"
    pip=("$scratch/venv/bin/python" -m pip)
  fi
  pipq=("${pip[@]}" --disable-pip-version-check --no-input --no-cache-dir -q)
  printf 'xgboost-cpu==%s --hash=sha256:%s\n' "$XGBOOST_VERSION" "$XGBOOST_WHEEL_SHA256" > "$scratch/wheel.txt"
  printf 'xgboost==%s --hash=sha256:%s\n' "$XGBOOST_VERSION" "$XGBOOST_SDIST_SHA256" > "$scratch/sdist.txt"
  "${pipq[@]}" download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
    --require-hashes -r "$scratch/wheel.txt" -d "$scratch/wheel" >"$xgb_log" 2>&1 || fail "pip download of the xgboost-cpu wheel failed (or its sha256 differs from the pinned one)"
  whl=$(ls "$scratch"/wheel/*.whl)
  [ "$(sha256sum "$whl" | cut -d' ' -f1)" = "$XGBOOST_WHEEL_SHA256" ] || fail "$(basename "$whl"): sha256 differs from the pinned one"
  python3 -m zipfile -e "$whl" "$scratch/wheel/x" >>"$xgb_log" 2>&1 || fail "could not unpack $(basename "$whl")"
  # The sdist: pip checks its sha256, unpacks it, and stops at the build (expected to fail).
  mkdir -p "$scratch/tmp"
  TMPDIR="$scratch/tmp" "${pipq[@]}" wheel --no-deps --no-binary=:all: --no-clean --config-settings use_system_libxgboost=True \
    --require-hashes -r "$scratch/sdist.txt" -w "$scratch/tmp/w" >>"$xgb_log" 2>&1 || true
  grep -q "THESE PACKAGES DO NOT MATCH THE HASHES" "$xgb_log" && fail "the xgboost sdist's sha256 differs from the pinned one"
  src=$(ls -d "$scratch"/tmp/pip-wheel-*/xgboost_* 2>/dev/null | head -n1)
  [ -n "$src" ] && [ -f "$src/cpp_src/include/xgboost/c_api.h" ] || fail "the xgboost sdist was not unpacked (no cpp_src/include/xgboost/c_api.h)"
  [ "$(sed -n 's/^Version: //p' "$src/PKG-INFO")" = "$XGBOOST_VERSION" ] || fail "the sdist's PKG-INFO says version $(sed -n 's/^Version: //p' "$src/PKG-INFO"), not $XGBOOST_VERSION"
  grep -q "^Version: $XGBOOST_VERSION\$" "$scratch"/wheel/x/xgboost_cpu-*.dist-info/METADATA || fail "the wheel's METADATA is not version $XGBOOST_VERSION"
  out="$xgb.tmp.$$"
  rm -rf "$out"
  mkdir -p "$out/include/xgboost" "$out/lib/xgboost/lib" "$out/lib/xgboost_cpu.libs"
  cp "$src/cpp_src/include/xgboost/c_api.h" "$out/include/xgboost/"
  cp "$src/cpp_src/LICENSE" "$out/LICENSE"
  cp "$scratch/wheel/x/xgboost/lib/libxgboost.so" "$out/lib/xgboost/lib/"
  cp "$scratch/wheel/x/xgboost_cpu.libs/$XGBOOST_GOMP" "$out/lib/xgboost_cpu.libs/" || fail "the wheel holds no xgboost_cpu.libs/$XGBOOST_GOMP"
  # The library must be the version of the header: ask it.
  got=$(python3 -c 'import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); v=[ctypes.c_int() for _ in range(3)]; l.XGBoostVersion(*[ctypes.byref(x) for x in v]); print(".".join(str(x.value) for x in v))' "$out/lib/xgboost/lib/libxgboost.so" 2>>"$xgb_log") ||
    fail "the wheel's libxgboost.so does not load"
  [ "$got" = "$XGBOOST_VERSION" ] || fail "the wheel's libxgboost.so says version $got"
  touch "$out/$(basename "$xgb_stamp")"
  rm -rf "$xgb"
  mkdir -p "$(dirname "$xgb")"
  mv "$out" "$xgb"
  rm -rf "$scratch"
  trap - EXIT
fi

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
