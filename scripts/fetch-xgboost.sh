#!/usr/bin/env bash
# Fetches the XGBoost that the native addon links, idempotently and quietly:
# libxgboost.so (and the libgomp it was linked with) from the PyPI wheel
# xgboost-cpu (manylinux_2_28), its C API header from the PyPI sdist of the same
# version; both pinned by sha256. Cached outside the clone in
# ~/.cache/mlbridge/xgboost-$XGBOOST_VERSION (MLBRIDGE_XGBOOST_DIR points elsewhere):
#   lib/xgboost/lib/libxgboost.so, lib/xgboost_cpu.libs/libgomp-*.so.1.0.0 (the
#   wheel's layout: libxgboost's RPATH is $ORIGIN/../../xgboost_cpu.libs),
#   include/xgboost/c_api.h, LICENSE.
# Needs python3 with venv support (Debian: python3-venv). Used by scripts/setup.sh
# and the Dockerfile's build stage.
# native/binding.gyp links against it and copies the libraries next to mlbridge.node.
# The sdist is unpacked by pip itself (`pip wheel --no-clean`, which stops by
# design when the build backend cannot be imported), because `pip download` of
# it compiles the whole library to read its metadata (6-9 minutes on 2 cores).
# Measured: ~8 s the first time (5.6 MB wheel, 1.5 MB sdist), nothing once cached.
set -euo pipefail

XGBOOST_VERSION=3.2.0
XGBOOST_WHEEL_SHA256=9c10b1653e1a689bf4094a328144cf3633c9be0e5217a76fbdc2fde6abcb2950  # xgboost_cpu-3.2.0-py3-none-manylinux_2_28_x86_64.whl
XGBOOST_SDIST_SHA256=99b0e9a2a64896cdaf509c5e46372d336c692406646d20f2af505003c0c5d70d  # xgboost-3.2.0.tar.gz
XGBOOST_GOMP=libgomp-e985bcbb.so.1.0.0
xgb="${MLBRIDGE_XGBOOST_DIR:-$HOME/.cache/mlbridge/xgboost-$XGBOOST_VERSION}"
xgb_stamp="$xgb/.mlbridge-$XGBOOST_VERSION-${XGBOOST_WHEEL_SHA256:0:12}-${XGBOOST_SDIST_SHA256:0:12}"
[ -f "$xgb_stamp" ] && exit 0

say() { printf 'mlbridge setup: %s\n' "$*" >&2; }
[ "$(uname -m)" = x86_64 ] || { say "XGBoost: only x86_64 Linux is set up (the pinned wheel is manylinux_2_28_x86_64); found $(uname -m)"; exit 1; }
say "fetching XGBoost $XGBOOST_VERSION (libxgboost from the xgboost-cpu wheel, headers from the sdist) into $xgb"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
xgb_log="$scratch/log"
fail() { say "XGBoost $XGBOOST_VERSION: $*"; say "pip's output:"; sed 's/^/  /' "$xgb_log" >&2 || true; exit 1; }
# pip from a throwaway venv (Debian's python3 has none without python3-pip), which
# also has no hatchling: the sdist's build backend then fails at once (below).
python3 -m venv "$scratch/venv" >"$xgb_log" 2>&1 || fail "could not make a venv for pip"
pipq=("$scratch/venv/bin/python" -m pip --disable-pip-version-check --no-input --no-cache-dir -q)
printf 'xgboost-cpu==%s --hash=sha256:%s\n' "$XGBOOST_VERSION" "$XGBOOST_WHEEL_SHA256" > "$scratch/wheel.txt"
printf 'xgboost==%s --hash=sha256:%s\n' "$XGBOOST_VERSION" "$XGBOOST_SDIST_SHA256" > "$scratch/sdist.txt"
"${pipq[@]}" download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
  --require-hashes -r "$scratch/wheel.txt" -d "$scratch/wheel" >"$xgb_log" 2>&1 || fail "pip download of the xgboost-cpu wheel failed (or its sha256 differs from the pinned one)"
whl=$(ls "$scratch"/wheel/*.whl)
[ "$(sha256sum "$whl" | cut -d' ' -f1)" = "$XGBOOST_WHEEL_SHA256" ] || fail "$(basename "$whl"): sha256 differs from the pinned one"
python3 -m zipfile -e "$whl" "$scratch/wheel/x" >>"$xgb_log" 2>&1 || fail "could not unpack $(basename "$whl")"
# The sdist: pip checks its sha256 and unpacks it (kept: --no-clean); its build backend
# then fails to import (no hatchling, no build isolation), as expected, in about a second.
mkdir -p "$scratch/tmp"
TMPDIR="$scratch/tmp" "${pipq[@]}" wheel --no-deps --no-binary=:all: --no-build-isolation --no-clean \
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
