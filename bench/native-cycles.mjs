#!/usr/bin/env node
// Scenario 11's worker (a fresh process, so that RSS is this work's alone): N train / predict /
// save / load / dispose cycles of a small XGBoost model (trained on this thread, as the training
// process does) and N load / tag / dispose cycles of a CRF model, after 100 warm-up cycles.
// Prints {"beforeMiB": …, "afterMiB": …, "cycles": N} on stdout. Usage: node --expose-gc native-cycles.mjs N
import path from "node:path";
import { core, DATA } from "./lib.mjs";

const n = Number(JSON.parse(process.argv[2] ?? "1000"));
const rows = 60;
const values = new Float32Array(rows * 4).map((_, i) => (i * 7919) % 13);
const labels = Float32Array.from({ length: rows }, (_, i) => i % 3);
const ner = path.join(DATA, "book/ner.csv");
const sentence = (await core.readNerCsv(ner, core.CRF_PRESETS.book.template, false)).sequences[0].items;
const fit = await core.fitCrfCsv(ner, { preset: "book", noHoldout: true, params: { max_iterations: 3 } });
const crfBytes = fit.model.bytes;
fit.model.dispose();
const cycle = async () => {
  const r = await core.trainXgboostHere(
    { values, rows, cols: 4, labels },
    { params: { objective: "multi:softmax", num_class: 3 }, numRounds: 2, testFraction: 0.2 },
  );
  r.model.predict(values, rows, 4);
  const bytes = r.model.toBuffer("ubj");
  r.model.dispose();
  const again = core.XgbModel.fromBuffer(bytes);
  again.predict(values.subarray(0, 4), 1, 4);
  again.dispose();
  const m = core.CrfModel.fromBuffer(crfBytes);
  m.tag(sentence, { marginals: true });
  m.dispose();
};
for (let i = 0; i < 100; i++) await cycle();
global.gc?.();
const mib = () => process.memoryUsage().rss / 2 ** 20;
const beforeMiB = mib();
for (let i = 0; i < n; i++) await cycle();
global.gc?.();
core.disposeCrfTraining();
process.stdout.write(JSON.stringify({ beforeMiB, afterMiB: mib(), cycles: n }) + "\n");
process.exit(0);
