// Prints the folder holding the pinned XGBoost (include/ and lib/) that
// scripts/setup.sh fetches, for binding.gyp and lint.sh; fails with what to run
// when it is missing. MLBRIDGE_XGBOOST_DIR overrides the default
// ~/.cache/mlbridge/xgboost-<version>.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const XGBOOST_VERSION = "3.2.0"; // keep in step with scripts/setup.sh
const dir = process.env.MLBRIDGE_XGBOOST_DIR || path.join(os.homedir(), ".cache", "mlbridge", `xgboost-${XGBOOST_VERSION}`);
const need = [path.join(dir, "include", "xgboost", "c_api.h"), path.join(dir, "lib", "xgboost", "lib", "libxgboost.so")];
const missing = need.filter((f) => !fs.existsSync(f));
if (missing.length) {
  process.stderr.write(`mlbridge native: XGBoost ${XGBOOST_VERSION} is not set up (missing ${missing.join(", ")}): run \`npm run setup\` (scripts/setup.sh) first\n`);
  process.exit(1);
}
process.stdout.write(dir);
