import { scanCsv, type CsvSource } from "../data/csv";
import { Growable } from "../data/growable";
import { parseOffThread, runOffThread } from "../data/offthread";
import { InvalidInputError } from "../errors";
import type { XgbTrainData } from "./train";

/** A dense feature matrix (row-major float32) with its column names. */
export interface Matrix {
  values: Float32Array;
  rows: number;
  cols: number;
  featureNames: string[];
}

/** Labelled data read from a CSV. */
export interface LabelledMatrix extends Matrix {
  /** Numeric labels (class indices for text labels). */
  labels: Float32Array;
  /** Class names by index when the label column holds text (sorted), else []. */
  classNames: string[];
}

/** A decimal number as CSV writers print one. */
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function parseNumber(text: string, what: string, line: number, column: string): number {
  const t = text.trim();
  if (t === "") return Number.NaN; // missing value
  const v = Number(t);
  if (!Number.isFinite(v) || !NUMBER.test(t)) {
    throw new InvalidInputError(
      `${what} line ${line}, column ${JSON.stringify(column)}: expected a finite number, got ${JSON.stringify(text.slice(0, 40))} (leave the field empty for a missing value)`,
    );
  }
  return v;
}

/** Appends a row's `columns` (by index) to `out` as numbers. */
function pushRow(out: Growable<Float32Array>, row: string[], idx: number[], columns: string[], what: string, line: number): void {
  out.reserve(idx.length);
  for (let c = 0; c < idx.length; c++) out.push(parseNumber(row[idx[c]], what, line, columns[c]));
}

/**
 * Reads a labelled CSV with a header (e.g. the book's iris.csv): every column
 * but the label column is a numeric feature. Text labels become class indices
 * in sorted order (iris: setosa 0, versicolor 1, virginica 2). Streaming: the
 * memory is the matrix and one label per row, not the rows' text. A file, or
 * bytes of OFF_THREAD_BYTES or more, are read on a worker thread.
 *
 * @param labelColumn the label column; default the last one
 * @throws InvalidInputError naming the line and column of a bad value
 */
export async function readLabelledCsv(source: CsvSource, labelColumn?: string): Promise<LabelledMatrix> {
  if (parseOffThread(source)) return runOffThread<LabelledMatrix>({ op: "labelled", source, args: [labelColumn] });
  return readLabelledCsvHere(source, labelColumn);
}

/** readLabelledCsv on the calling thread. @internal (the parse worker's) */
export async function readLabelledCsvHere(source: CsvSource, labelColumn?: string): Promise<LabelledMatrix> {
  const what = "training CSV";
  const values = new Growable((n) => new Float32Array(n));
  const raw: string[] = [];
  let features: string[] = [];
  let idx: number[] = [];
  let label = "";
  let li = -1;
  const { rows } = await scanCsv(
    source,
    { what, required: labelColumn ? [labelColumn] : [] },
    (row, line) => {
      pushRow(values, row, idx, features, what, line);
      const v = row[li].trim();
      if (v === "") throw new InvalidInputError(`${what} line ${line}, column ${JSON.stringify(label)}: the label is empty`);
      raw.push(v);
    },
    ({ header, index }) => {
      label = labelColumn || header[header.length - 1];
      features = header.filter((h) => h !== label);
      if (features.length === 0) throw new InvalidInputError(`${what} line 1: no feature columns besides the label column ${JSON.stringify(label)}`);
      idx = features.map((c) => index.get(c)!);
      li = index.get(label)!;
    },
  );
  const labels = new Float32Array(rows);
  let classNames: string[] = [];
  if (raw.every((v) => NUMBER.test(v))) raw.forEach((v, i) => (labels[i] = Number(v)));
  else {
    classNames = [...new Set(raw)].sort();
    const code = new Map(classNames.map((c, i) => [c, i]));
    raw.forEach((v, i) => (labels[i] = code.get(v)!));
  }
  return { values: values.finish(), rows, cols: features.length, featureNames: features, labels, classNames };
}

/**
 * Reads a CSV of rows to predict: the columns named `featureNames` are taken
 * in that order, other columns (such as a label) are ignored. Without names,
 * the first `numFeatures` columns are taken. Streaming and, for large inputs,
 * on a worker thread, as readLabelledCsv.
 */
export async function readFeatureCsv(source: CsvSource, featureNames: string[], numFeatures: number): Promise<Matrix> {
  if (parseOffThread(source)) return runOffThread<Matrix>({ op: "features", source, args: [featureNames, numFeatures] });
  return readFeatureCsvHere(source, featureNames, numFeatures);
}

/** readFeatureCsv on the calling thread. @internal (the parse worker's) */
export async function readFeatureCsvHere(source: CsvSource, featureNames: string[], numFeatures: number): Promise<Matrix> {
  const what = "predict CSV";
  const values = new Growable((n) => new Float32Array(n));
  let columns = featureNames;
  let idx: number[] = [];
  const { rows } = await scanCsv(
    source,
    { what, required: featureNames },
    (row, line) => pushRow(values, row, idx, columns, what, line),
    ({ header, index }) => {
      if (columns.length === 0) {
        if (header.length < numFeatures) {
          throw new InvalidInputError(`${what} line 1: the model expects ${numFeatures} feature columns, the file has ${header.length}`);
        }
        columns = header.slice(0, numFeatures);
      }
      idx = columns.map((c) => index.get(c)!);
    },
  );
  return { values: values.finish(), rows, cols: columns.length, featureNames: columns };
}

/** A part of labelled rows (one message of a stream). */
export interface XgbRowsPart {
  values: Float32Array;
  rows: number;
  labels: Float32Array;
  weights?: Float32Array;
}

/**
 * Joins labelled rows received in parts into one training set of `cols` columns
 * (the caller checked each part's shape).
 * @throws InvalidInputError when some parts have weights and others not, or the names do not fit
 */
export function joinRows(parts: XgbRowsPart[], cols: number, names: { featureNames?: string[]; classNames?: string[] } = {}): XgbTrainData {
  const rows = parts.reduce((a, p) => a + p.rows, 0);
  const anyWeights = parts.some((p) => p.weights);
  if (anyWeights && !parts.every((p) => p.weights)) throw new InvalidInputError("rows.weights: give weights in every rows message or in none");
  const featureNames = names.featureNames ?? [];
  if (featureNames.length && featureNames.length !== cols) throw new InvalidInputError(`feature_names: expected ${cols} names, got ${featureNames.length}`);
  const values = new Float32Array(rows * cols);
  const labels = new Float32Array(rows);
  const weights = anyWeights ? new Float32Array(rows) : undefined;
  let at = 0;
  for (const p of parts) {
    values.set(p.values, at * cols);
    labels.set(p.labels, at);
    if (weights) weights.set(p.weights!, at);
    at += p.rows;
  }
  return { values, rows, cols, labels, weights, featureNames, classNames: names.classNames ?? [] };
}
