#!/usr/bin/env node
// Measures the core library in-process: CRF training time and accuracies on
// the book's ner.csv (book preset, rich preset), XGBoost iris training time,
// and single-row predict latency from JS. Usage: node bench/core.mjs [shared-data-dir]
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const core = require(path.join(root, "packages/core/dist/index.js"));
const data = process.argv[2] ?? path.resolve(root, "../shared/data");
const book = (f) => path.join(data, "book", f);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const preset of ["book", "rich"]) {
  const times = [];
  let fit;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    fit = await core.fitCrfCsv(book("ner.csv"), { preset, seed: 0 });
    times.push((performance.now() - t0) / 1000);
    if (i < 2) fit.model.dispose();
  }
  const m = fit.metrics;
  console.log(
    `crf ${preset}: algorithm ${fit.algorithm}, ${fit.iterations} iterations, fit (read+train+score) median ${median(times).toFixed(3)} s, training process ${fit.seconds.toFixed(3)} s; book accuracy ${m.bookAccuracy.toFixed(4)} (${m.bookCorrect}/${m.bookTotal}), token accuracy ${m.tokenAccuracy.toFixed(4)}, macro F1 ${m.macroF1.toFixed(4)}`,
  );
  fit.model.dispose();
}

const xt = [];
let r;
for (let i = 0; i < 20; i++) {
  const t0 = performance.now();
  r = await core.fitXgboostCsv(book("iris.csv"), { preset: "iris" });
  xt.push(performance.now() - t0);
  if (i < 19) r.model.dispose();
}
console.log(
  `xgboost iris preset: fit (read CSV + 2 rounds + eval) median ${median(xt).toFixed(2)} ms, training only ${(r.seconds * 1000).toFixed(2)} ms, validation accuracy ${r.validationAccuracy}`,
);
const row = Float32Array.of(5.1, 3.5, 1.4, 0.2);
for (let i = 0; i < 2000; i++) r.model.predict(row, 1, 4);
const lat = [];
for (let i = 0; i < 10000; i++) {
  const t0 = process.hrtime.bigint();
  r.model.predict(row, 1, 4);
  lat.push(Number(process.hrtime.bigint() - t0) / 1000);
}
lat.sort((a, b) => a - b);
console.log(
  `xgboost single-row predict from JS (sync path): median ${lat[5000].toFixed(1)} µs, p99 ${lat[9900].toFixed(1)} µs over 10,000 calls after 2,000 warm-up`,
);
r.model.dispose();
