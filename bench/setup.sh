#!/usr/bin/env bash
# Idempotent peer setup for the benchmark harness (everything under bench/.peers, gitignored):
#   - ghz (gRPC load generator) via `go install` into bench/.peers/bin
#   - wrk (HTTP load generator) from Debian, when root
#   - a Python venv bench/.peers/venv with xgboost, python-crfsuite, numpy, grpcio,
#     mlserver and mlserver-xgboost.
# Failures are recorded in bench/.peers/status.json and the dependent comparisons are skipped;
# this script never fails the run because a peer could not be installed.
# Usage: bash bench/setup.sh [--quick]   (--quick: only what the smoke mode needs: nothing mandatory)
set -uo pipefail
cd "$(dirname "$0")"
PEERS="$PWD/.peers"
mkdir -p "$PEERS/bin"
say() { printf 'bench setup: %s\n' "$*" >&2; }
ghz_status=ok; venv_status=ok; mlserver_status=ok

# --- ghz ---------------------------------------------------------------------
if [ ! -x "$PEERS/bin/ghz" ]; then
  if command -v go >/dev/null; then
    say "installing ghz with go install (into $PEERS/bin)"
    if ! GOBIN="$PEERS/bin" go install github.com/bojand/ghz/cmd/ghz@latest >"$PEERS/ghz-install.log" 2>&1; then
      ghz_status="go install failed (see bench/.peers/ghz-install.log)"; say "$ghz_status"
    fi
  else
    ghz_status="go not found"; say "$ghz_status"
  fi
fi

# --- wrk (HTTP load generator, scenario 10) from Debian ----------------------
wrk_status=ok
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing wrk with apt-get"
    { apt-get install -y -qq --no-install-recommends wrk || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk; }; } >"$PEERS/wrk-install.log" 2>&1 \
      || wrk_status="apt-get install wrk failed (see bench/.peers/wrk-install.log)"
  else
    wrk_status="wrk not installed (apt-get install wrk, as root)"
  fi
  [ "$wrk_status" = ok ] || say "$wrk_status"
fi

# --- Python venv --------------------------------------------------------------
PY="$PEERS/venv/bin/python"
if [ ! -x "$PY" ]; then
  say "creating $PEERS/venv"
  python3 -m venv "$PEERS/venv" || venv_status="python3 -m venv failed"
fi
if [ -x "$PY" ]; then
  if ! "$PY" -c 'import xgboost, pycrfsuite, numpy' 2>/dev/null; then
    say "installing xgboost, python-crfsuite, numpy into the bench venv"
    "$PY" -m pip install -q --upgrade pip >"$PEERS/pip.log" 2>&1
    "$PY" -m pip install -q xgboost-cpu python-crfsuite numpy grpcio >>"$PEERS/pip.log" 2>&1 \
      || "$PY" -m pip install -q xgboost python-crfsuite numpy grpcio >>"$PEERS/pip.log" 2>&1 \
      || venv_status="pip install of xgboost/python-crfsuite failed (see bench/.peers/pip.log)"
  fi
  if [ "${1:-}" != "--quick" ] && ! "$PEERS/venv/bin/mlserver" --help >/dev/null 2>&1; then
    say "installing mlserver + mlserver-xgboost into the bench venv"
    "$PY" -m pip install -q mlserver mlserver-xgboost >"$PEERS/mlserver-install.log" 2>&1 \
      || mlserver_status="pip install mlserver mlserver-xgboost failed (see bench/.peers/mlserver-install.log)"
    # mlserver-xgboost may pin/downgrade xgboost; keep whatever pip resolved and record versions.
  fi
  # MLServer 1.7.1's parallel inference workers call asyncio.get_event_loop() outside a running
  # loop, which uvloop >= 0.22 turns into "RuntimeError: There is no current event loop": every
  # worker dies and the model never loads. Keep uvloop below 0.22 (MLServer's default config).
  if [ -x "$PEERS/venv/bin/mlserver" ] && ! "$PY" -c 'import uvloop,sys; sys.exit(0 if tuple(map(int, uvloop.__version__.split(".")[:2])) < (0, 22) else 1)' 2>/dev/null; then
    say "pinning uvloop<0.22 for MLServer 1.7.1"
    "$PY" -m pip install -q "uvloop<0.22" >>"$PEERS/mlserver-install.log" 2>&1 || mlserver_status="could not pin uvloop<0.22 (MLServer workers crash with uvloop >= 0.22)"
  fi
  [ -x "$PEERS/venv/bin/mlserver" ] || { [ "$mlserver_status" = ok ] && mlserver_status="mlserver not installed"; }
else
  mlserver_status="no venv"
fi
"$PY" - "$PEERS/status.json" "$ghz_status" "$venv_status" "$mlserver_status" <<'PYEOF' 2>/dev/null || true
import json, sys, importlib.metadata as md
def v(p):
    try: return md.version(p)
    except Exception: return None
out, ghz, venv, mls = sys.argv[1:5]
json.dump({"ghz": ghz, "venv": venv, "mlserver": mls,
           "versions": {p: v(p) for p in ["xgboost", "xgboost-cpu", "python-crfsuite", "numpy", "grpcio", "mlserver", "mlserver-xgboost", "uvloop"]}},
          open(out, "w"), indent=2)
PYEOF
say "ghz: $ghz_status; wrk: $wrk_status; venv: $venv_status; mlserver: $mlserver_status"
exit 0
