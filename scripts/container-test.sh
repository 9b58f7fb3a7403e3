#!/usr/bin/env bash
# The container test (`npm run test:container`; outside `npm test`: 3-4 minutes the
# first time on 2 cores, ~1 minute with the base image and Docker's layer cache).
# Builds the repository's Dockerfile and proves that the runtime stage's file
# set serves, as an operator runs it: non-root, read-only root filesystem, the
# store on a volume.
#
# This machine cannot pull images (no Docker Hub), so the Dockerfile's base
# images are pointed (build arguments) at a local one made here:
#   1. Debian's docker.io + containerd (installed if missing), a dockerd started
#      without networking of its own (--bridge=none) when none runs;
#   2. a Debian 12 root filesystem made by `debootstrap --variant=minbase
#      bookworm` from the apt mirror this machine is configured with, imported
#      as an image;
#   3. Node 20 in it: this machine's own Node (its binary, npm and headers,
#      checked to be 20.x), a `node` user (uid 1000) as in the official images,
#      and this machine's CA bundle (npm and apt inside the build reach the
#      registries the way the machine does).
# Steps 2-3 are kept as the image mlbridge-local/node:20-bookworm (rebuilt
# with MLBRIDGE_REBUILD_BASE=1). Then `docker build` (legacy builder; MLBRIDGE_NO_CACHE=1: --no-cache;
# --network host), and two runs with --network host --read-only --user node:
#   a. an empty store on a named volume: gRPC health SERVING, an iris model
#      trained through the API, a prediction, the model exported;
#   b. that file mounted read-only at /mnt/models and `--load iris2=/mnt/models`
#      (KServe's layout): V2 REST and gRPC ModelInfer answer with it.
# Everything it made is removed at the end (the base image is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf 'container-test: %s\n' "$*" >&2; }
t0=$(date +%s)

[ "$(id -u)" = 0 ] || { say "needs root (apt-get, dockerd, debootstrap)"; exit 1; }

# --- Docker ----------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v containerd >/dev/null || missing+=(containerd)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's client, which matches Debian's daemon.
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker)

work=$(mktemp -d /tmp/mlbridge-container-test.XXXXXX)
started_dockerd=""
tag="mlbridge-test:$$"
volume="mlbridge-test-$$"
containers=()
cleanup() {
  local rc=$?
  for c in "${containers[@]}"; do $docker rm -f "$c" >/dev/null 2>&1 || true; done
  $docker volume rm -f "$volume" >/dev/null 2>&1 || true
  $docker image rm -f "$tag" >/dev/null 2>&1 || true
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

if ! $docker info >/dev/null 2>&1; then
  say "starting dockerd (no bridge, no iptables; containers use --network host)"
  dockerd --bridge=none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 100); do $docker info >/dev/null 2>&1 && break; sleep 0.2; done
  $docker info >/dev/null 2>&1 || { say "dockerd did not start:"; tail -20 "$work/dockerd.log" >&2; exit 1; }
fi

# --- the local base image -----------------------------------------------------------
# The tag names the recipe below: a changed recipe makes a new base (the bookworm rootfs is kept).
base=mlbridge-local/node:20-bookworm-3
node_version=$(node -p 'process.versions.node')
case "$node_version" in 20.*) ;; *) say "this machine's Node is $node_version: the image needs Node 20"; exit 1 ;; esac

# The bookworm mirror this machine's apt uses (deb822 .sources files or sources.list).
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm([ \n]|$)/ && /Types:[^\n]*deb([ \n]|$)/ { if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f"
  done | head -1
  if [ -f /etc/apt/sources.list ]; then awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list; fi
  return 0
}

if [ "${MLBRIDGE_REBUILD_BASE:-0}" = 1 ] || ! $docker image inspect "$base" >/dev/null 2>&1; then
  mirror=$(apt_mirror | head -1)
  [ -n "$mirror" ] || { say "no bookworm mirror found in /etc/apt/sources.list(.d)"; exit 1; }
  if [ "${MLBRIDGE_REBUILD_BASE:-0}" = 1 ] || ! $docker image inspect mlbridge-local/bookworm:minbase >/dev/null 2>&1; then
    say "debootstrap --variant=minbase bookworm (this machine's apt mirror)"
    tb=$(date +%s)
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    tar -C "$work/rootfs" -c . | $docker import - mlbridge-local/bookworm:minbase >/dev/null
    rm -rf "$work/rootfs"
    say "bookworm root filesystem imported in $(( $(date +%s) - tb )) s"
  fi
  # Node 20 as the official images lay it out: /usr/local/{bin,lib/node_modules,include/node}.
  nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  mkdir -p "$work/base/node/bin" "$work/base/node/lib/node_modules" "$work/base/node/include"
  cp "$(readlink -f "$(command -v node)")" "$work/base/node/bin/node"
  cp -a "$nodedir/lib/node_modules/npm" "$work/base/node/lib/node_modules/"
  cp -a "$nodedir/include/node" "$work/base/node/include/"
  cp /etc/ssl/certs/ca-certificates.crt "$work/base/ca-certificates.crt"
  cat >"$work/base/Dockerfile" <<'DOCKERFILE'
FROM mlbridge-local/bookworm:minbase
COPY node /usr/local/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# A copy apt's update-ca-certificates leaves alone (installing python3 regenerates the bundle above
# without this machine's own CAs).
COPY ca-certificates.crt /usr/local/share/mlbridge-host-ca.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# This machine's CA bundle for npm and for pip (the Dockerfile's fetch-xgboost.sh runs pip).
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/mlbridge-host-ca.crt PIP_CERT=/usr/local/share/mlbridge-host-ca.crt
CMD ["node"]
DOCKERFILE
  DOCKER_BUILDKIT=0 $docker build -q -t "$base" "$work/base" >/dev/null
  say "made $base (Node $node_version)"
fi

# --- the image ------------------------------------------------------------------------
say "docker build (legacy builder, base images: $base)"
tb=$(date +%s)
nocache=()
[ "${MLBRIDGE_NO_CACHE:-0}" = 1 ] && nocache=(--no-cache)
if ! DOCKER_BUILDKIT=0 $docker build "${nocache[@]}" --network host --build-arg BUILD_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" -t "$tag" . >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  exit 1
fi
size=$($docker image inspect -f '{{.Size}}' "$tag")
say "built in $(( $(date +%s) - tb )) s: $(( size / 1024 / 1024 )) MiB"
user=$($docker image inspect -f '{{.Config.User}}' "$tag")
[ "$user" = node ] || { say "the image runs as '$user', not node"; exit 1; }

# --- the runs -------------------------------------------------------------------------
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# Runs the server: --network host, read-only root filesystem, non-root, /tmp as a tmpfs.
run() {
  local name=$1; shift
  $docker run -d --name "$name" --network host --read-only --tmpfs /tmp --user node "$@" >/dev/null
  containers+=("$name")
}
logs_fail() { say "$1"; $docker logs "$2" 2>&1 | tail -30 >&2; exit 1; }

$docker volume create "$volume" >/dev/null
grpc=$(free_port); http=$(free_port)
run "$volume-a" -v "$volume:/data" "$tag" serve --port "$grpc" --http-port "$http"
node scripts/lib/container-check.mjs train "$grpc" "$work/iris.json" || logs_fail "the first run failed" "$volume-a"
[ "$($docker exec "$volume-a" id -u)" != 0 ] || logs_fail "the server runs as root" "$volume-a"
$docker exec "$volume-a" sh -c 'touch /opt/mlbridge/x 2>/dev/null' && logs_fail "the root filesystem is writable" "$volume-a"
$docker stop -t 15 "$volume-a" >/dev/null
code=$($docker inspect -f '{{.State.ExitCode}}' "$volume-a")
[ "$code" = 0 ] || logs_fail "SIGTERM: exit $code, not 0" "$volume-a"
say "run a: trained, predicted, stopped cleanly (exit 0)"

mkdir -p "$work/models" && mv "$work/iris.json" "$work/models/model.json" && chmod -R a+rX "$work/models"
grpc=$(free_port); http=$(free_port)
run "$volume-b" -v "$volume:/data" -v "$work/models:/mnt/models:ro" "$tag" serve --port "$grpc" --http-port "$http" --load iris2=/mnt/models
node scripts/lib/container-check.mjs loaded "$grpc" "$http" iris2 || logs_fail "the --load run failed" "$volume-b"
$docker stop -t 15 "$volume-b" >/dev/null
say "run b: --load iris2=/mnt/models serves"

# A missing model stops the server with a message naming it.
$docker run --name "$volume-c" --network host --read-only --user node -v "$volume:/data" "$tag" serve --port 0 --http-port off --load bad=/mnt/models/none.json >"$work/c.log" 2>&1 && { say "a missing --load model did not stop the server"; exit 1; }
containers+=("$volume-c")
grep -q "bad" "$work/c.log" || { cat "$work/c.log" >&2; say "the error does not name the model"; exit 1; }
say "run c: a missing --load model stops the server: $(grep -m1 -o 'mlbridge: .*' "$work/c.log" | cut -c1-160)"

say "passed in $(( $(date +%s) - t0 )) s (image $(( size / 1024 / 1024 )) MiB)"
