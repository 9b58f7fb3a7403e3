#!/usr/bin/env bash
# Lints the addon's own C++: a syntax-and-warnings pass with the build's flags
# and -Werror (third-party headers are system includes, so their warnings are not ours).
set -euo pipefail
cd "$(dirname "$0")"
node_inc=$(node -p "require('path').join(process.execPath, '../../include/node')")
[ -d "$node_inc" ] || node_inc=/usr/include/node
addon_inc=$(node -p "require('node-addon-api').include_dir")
xgb_inc="$(node scripts/xgboost-dir.js)/include"   # the pinned XGBoost's c_api.h (scripts/setup.sh)
for f in src/*.cc; do
  g++ -fsyntax-only -std=c++17 -fexceptions -Wall -Wextra -Werror \
    -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_CPP_EXCEPTIONS_ALL -DNODE_ADDON_API_DISABLE_DEPRECATED \
    -isystem "$node_inc" -isystem "$addon_inc" -isystem "$xgb_inc" -isystem ../node_modules/crfsuite/crfsuite/include "$f"
done
echo "native lint: ok"
