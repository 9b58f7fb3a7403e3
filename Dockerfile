# mlbridge server image: `docker build -t mlbridge .` at the repository root.
#
# Two stages: `build` compiles the native addon (node-gyp, g++, and XGBoost
# 3.2.0 fetched from PyPI by scripts/fetch-xgboost.sh, pinned by sha256) and
# the TypeScript; the runtime stage is a slim Node 20 with the addon's build
# folder as it is (mlbridge.node with libxgboost.so and its libgomp beside it,
# found through the addon's RUNPATH) and the production node_modules. No HEALTHCHECK:
# Kubernetes probes the gRPC health service instead (deploy/helm/mlbridge).
#
# The base images are build arguments so that a machine that cannot pull them
# can point them at local ones (scripts/container-test.sh does); their defaults
# are the official Node images.
ARG BUILD_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=node:20-bookworm-slim

FROM ${BUILD_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++ make python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# node-gyp compiles against the headers that ship with the Node image (no download).
ENV npm_config_nodedir=/usr/local NX_DAEMON=false NX_NO_CLOUD=true MLBRIDGE_XGBOOST_DIR=/opt/xgboost
WORKDIR /src
# libxgboost.so and c_api.h (pip from a throwaway venv, the index pip is configured with).
COPY scripts/fetch-xgboost.sh scripts/
RUN bash scripts/fetch-xgboost.sh
COPY package.json package-lock.json ./
COPY native/package.json native/
COPY packages/core/package.json packages/core/
COPY packages/server/package.json packages/server/
COPY packages/lambda/package.json packages/lambda/
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.base.json ./
COPY scripts/gen-descriptors.mjs scripts/
COPY proto proto
COPY native native
COPY packages/core packages/core
COPY packages/server packages/server
# The steps of `nx run server:build` (native:build, core:build, proto:codegen, server's tsc).
RUN cd native && npx node-gyp rebuild -j 2 \
 && cd ../proto && npx buf generate && node ../scripts/gen-descriptors.mjs \
 && cd .. && npx tsc -b packages/core packages/server

# Production dependencies only, without install scripts (the addon is built above).
FROM ${BUILD_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY native/package.json native/
COPY packages/core/package.json packages/core/
COPY packages/server/package.json packages/server/
COPY packages/lambda/package.json packages/lambda/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
      --workspace native --workspace packages/core --workspace packages/server

FROM ${RUNTIME_IMAGE}
RUN mkdir -p /data && chown node:node /data
WORKDIR /opt/mlbridge
COPY --from=deps /src/package.json ./
COPY --from=deps /src/node_modules node_modules
COPY --from=build /src/native/package.json native/
# The addon with the XGBoost it links (xgboost/lib/libxgboost.so, xgboost_cpu.libs/libgomp-*.so).
COPY --from=build /src/native/build/Release/mlbridge.node native/build/Release/
COPY --from=build /src/native/build/Release/xgboost native/build/Release/xgboost
COPY --from=build /src/native/build/Release/xgboost_cpu.libs native/build/Release/xgboost_cpu.libs
COPY --from=build /src/packages/core/package.json packages/core/
COPY --from=build /src/packages/core/dist packages/core/dist
COPY --from=build /src/packages/server/package.json packages/server/
COPY --from=build /src/packages/server/dist packages/server/dist
COPY --from=build /src/proto proto
# The store (a folder store when no --store s3://… is given) lives on a volume;
# everything else is read-only (docker run --read-only, readOnlyRootFilesystem).
ENV NODE_ENV=production \
    MLBRIDGE_HOST=0.0.0.0 \
    MLBRIDGE_HTTP_HOST=0.0.0.0 \
    MLBRIDGE_MODEL_DIR=/data/models
VOLUME /data
USER node
# 50051: gRPC (mlbridge.v1, inference.GRPCInferenceService, health, reflection);
# 8000: HTTP (V2 REST, /metrics, /healthz, /readyz); 8085: the ModelMesh SPI when --modelmesh-port 8085.
EXPOSE 50051 8000
ENTRYPOINT ["node", "/opt/mlbridge/packages/server/dist/cli.js"]
CMD ["serve"]
