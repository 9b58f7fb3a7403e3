// Scenario 2: the book's way (every call loads the model file from disk, then predicts) vs a model
// cached in memory, both through the same core API, in-process. XGBoost iris (1 row) and CRF (1 sentence).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { core, DATA, summary, fmt, IRIS_ROW } from "../lib.mjs";

function perCall(fn, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}
async function perCallAsync(fn, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

export default async function s2(ctx) {
  const n = ctx.quick ? 200 : 2000;
  const row = Float32Array.from(IRIS_ROW);
  const cached = core.XgbModel.fromBuffer(ctx.iris.json);
  const xgbLoad = () => {
    const m = core.XgbModel.fromBuffer(readFileSync(ctx.iris.file));
    m.predict(row, 1, 4);
    m.dispose();
  };
  const xgbCached = () => cached.predict(row, 1, 4);
  // a CRF model: the scenario 4 model when available, else a small one trained here
  let crfFile = ctx.crfModelFile;
  if (!crfFile) {
    const data = await core.readNerCsv(path.join(DATA, "book/ner.csv"), core.CRF_PRESETS.book.template, true);
    const t = await core.trainCrf(data.sequences, { algorithm: "lbfgs", params: { max_iterations: 20 } });
    crfFile = path.join(ctx.work, "s2.crfsuite");
    writeFileSync(crfFile, t.model);
  }
  const sent = (await core.readNerCsv(path.join(DATA, "book/ner.csv"), core.CRF_PRESETS.book.template, true)).sequences[0].items;
  const crfCached = await core.CrfModel.fromFile(crfFile);
  const crfLoad = async () => {
    const m = await core.CrfModel.fromFile(crfFile);
    m.tag(sent);
    m.dispose();
  };
  const crfCachedCall = () => crfCached.tag(sent);
  xgbLoad();
  for (let i = 0; i < 200; i++) xgbCached();
  await crfLoad();
  for (let i = 0; i < 200; i++) crfCachedCall();
  const r = { xl: [], xc: [], cl: [], cc: [] };
  for (let i = 0; i < ctx.repeats; i++) {
    r.xl.push(perCall(xgbLoad, n));
    r.xc.push(perCall(xgbCached, n * 10));
    r.cl.push(await perCallAsync(crfLoad, Math.max(20, n / 10)));
    r.cc.push(perCall(crfCachedCall, n * 5));
  }
  cached.dispose();
  crfCached.dispose();
  const results = {
    "xgboost iris, load JSON file + predict 1 row": { us_per_call: summary(r.xl) },
    "xgboost iris, cached model, predict 1 row": { us_per_call: summary(r.xc) },
    [`crf, load model file (${readFileSync(crfFile).length} bytes) + tag 1 sentence`]: { us_per_call: summary(r.cl) },
    "crf, cached model, tag 1 sentence": { us_per_call: summary(r.cc) },
  };
  for (const [k, v] of Object.entries(results)) ctx.log(`  s2 ${k}: ${fmt(v.us_per_call.median, 1)} µs/call (±${fmt(v.us_per_call.spreadPct, 1)}%)`);
  const ratios = [
    { name: "xgboost: load+predict / cached predict (per-call cost, ×)", value: summary(r.xl).median / summary(r.xc).median, goal: null, op: "info" },
    { name: "crf: load+tag / cached tag (per-call cost, ×)", value: summary(r.cl).median / summary(r.cc).median, goal: null, op: "info" },
  ];
  return { results, ratios, notes: ["informational: no goal in the issue; the server caches models (LRU), this is what the cache saves per call"] };
}
