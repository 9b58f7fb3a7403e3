#!/usr/bin/env node
// Loopback latency and throughput of the server: single-row iris Predict and a
// 10-sentence Tag (>= 10,000 sequential calls after warm-up: p50/p99), then
// requests/s with 16 concurrent callers for 10 s.
// Usage: node bench/latency.mjs [shared-data-dir] [--calls N] [--seconds S]
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values, positionals } = parseArgs({ allowPositionals: true, options: { calls: { type: "string" }, seconds: { type: "string" } } });
const data = positionals[0] ?? path.resolve(root, "../shared/data");
const calls = Number(values.calls ?? 10000);
const seconds = Number(values.seconds ?? 10);
const dist = (p) => path.join(root, "packages/server/dist", p);
const grpc = require(path.join(root, "node_modules/@grpc/grpc-js"));
const pino = require(path.join(root, "node_modules/pino"));
const { startServer } = require(dist("server.js"));
const { loadConfig } = require(dist("config.js"));
const { XgboostServiceClient } = require(dist("generated/mlbridge/v1/xgboost_service.js"));
const { CrfServiceClient } = require(dist("generated/mlbridge/v1/crf_service.js"));
const { readNerCsv, CRF_PRESETS, packSequences } = require(path.join(root, "packages/core/dist/index.js"));

const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-bench-"));
const server = await startServer(loadConfig(["--port", "0", "--model-dir", dir, "--log-level", "warn"], {}), pino({ level: "warn" }));
const address = `127.0.0.1:${server.port}`;
const xgb = new XgboostServiceClient(address, grpc.credentials.createInsecure());
const crf = new CrfServiceClient(address, grpc.credentials.createInsecure());
const unary = (fn, req) => new Promise((res, rej) => fn(req, (e, r) => (e ? rej(e) : res(r))));
const bidi = (stream, reqs) =>
  new Promise((res, rej) => {
    stream.on("data", () => undefined);
    stream.on("error", rej);
    stream.on("end", res);
    for (const r of reqs) stream.write(r);
    stream.end();
  });

await bidi(xgb.train(), [
  {
    payload: {
      $case: "header",
      value: { modelName: "iris", preset: "iris", parameters: {}, seed: 0, featureNames: [], classNames: [], labelColumn: "", failIfExists: false },
    },
  },
  { payload: { $case: "csvChunk", value: readFileSync(path.join(data, "book/iris.csv")) } },
]);
await bidi(crf.train(), [
  {
    payload: {
      $case: "header",
      value: { modelName: "ner", algorithm: 0, parameters: {}, featurePreset: "rich", seed: 0, noHoldout: false, failIfExists: false },
    },
  },
  { payload: { $case: "csvChunk", value: readFileSync(path.join(data, "book/ner.csv")) } },
]);
const ner = await readNerCsv(path.join(data, "book/ner.csv"), CRF_PRESETS.rich.template, false);
const tenSentences = ner.sequences.slice(0, 10).map((s) => s.items);
const tokens = tenSentences.reduce((a, s) => a + s.length, 0);
const p = packSequences(tenSentences);
const packed = {
  attributeNames: Buffer.from(p.attributeNames),
  attributeWeights: Array.from(p.attributeWeights ?? []),
  itemAttributeCounts: Array.from(p.itemAttributeCounts),
  sequenceLengths: Array.from(p.sequenceLengths),
};

const scenarios = {
  "xgboost Predict, 1 row": () =>
    unary(xgb.predict.bind(xgb), { modelName: "iris", input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } }, output: 0 }),
  [`crf Tag, 10 sentences (${tokens} tokens)`]: () =>
    unary(crf.tag.bind(crf), { modelName: "ner", packed, includeProbability: false, includeMarginals: false }),
};
const results = {};
for (const [name, call] of Object.entries(scenarios)) {
  for (let i = 0; i < 1000; i++) await call();
  const lat = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    lat.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  lat.sort((a, b) => a - b);
  let done = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  results[name] = { p50_us: Math.round(lat[Math.floor(calls / 2)]), p99_us: Math.round(lat[Math.floor(calls * 0.99)]), rps16: Math.round(done / seconds) };
  console.log(
    `${name}: p50 ${results[name].p50_us} µs, p99 ${results[name].p99_us} µs over ${calls} sequential calls; ${results[name].rps16} req/s with 16 concurrent callers (${seconds} s)`,
  );
}
xgb.close();
crf.close();
await server.shutdown(1);
rmSync(dir, { recursive: true, force: true });
