import { readCsv, type CsvSource, type CsvTable } from "../data/csv";
import { InvalidInputError } from "../errors";

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

function parseNumber(text: string, what: string, line: number, column: string): number {
  const t = text.trim();
  if (t === "") return Number.NaN; // missing value
  const v = Number(t);
  if (!Number.isFinite(v) || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) {
    throw new InvalidInputError(
      `${what} line ${line}, column ${JSON.stringify(column)}: expected a finite number, got ${JSON.stringify(text.slice(0, 40))} (leave the field empty for a missing value)`,
    );
  }
  return v;
}

function toMatrix(table: CsvTable, columns: string[], what: string): Matrix {
  const idx = columns.map((c) => table.index.get(c)!);
  const rows = table.rows.length;
  const cols = columns.length;
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = table.rows[r];
    for (let c = 0; c < cols; c++) values[r * cols + c] = parseNumber(row[idx[c]], what, table.lines[r], columns[c]);
  }
  return { values, rows, cols, featureNames: columns };
}

/**
 * Reads a labelled CSV with a header (e.g. the book's iris.csv): every column
 * but the label column is a numeric feature. Text labels become class indices
 * in sorted order (iris: setosa 0, versicolor 1, virginica 2).
 *
 * @param labelColumn the label column; default the last one
 * @throws InvalidInputError naming the line and column of a bad value
 */
export async function readLabelledCsv(source: CsvSource, labelColumn?: string): Promise<LabelledMatrix> {
  const what = "training CSV";
  const table = await readCsv(source, { what, required: labelColumn ? [labelColumn] : [] });
  const label = labelColumn || table.header[table.header.length - 1];
  const features = table.header.filter((h) => h !== label);
  if (features.length === 0) throw new InvalidInputError(`${what} line 1: no feature columns besides the label column ${JSON.stringify(label)}`);
  const m = toMatrix(table, features, what);
  const li = table.index.get(label)!;
  const raw = table.rows.map((r) => r[li].trim());
  raw.forEach((v, r) => {
    if (v === "") throw new InvalidInputError(`${what} line ${table.lines[r]}, column ${JSON.stringify(label)}: the label is empty`);
  });
  const numeric = raw.every((v) => /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v));
  const labels = new Float32Array(raw.length);
  let classNames: string[] = [];
  if (numeric) raw.forEach((v, i) => (labels[i] = Number(v)));
  else {
    classNames = [...new Set(raw)].sort();
    const code = new Map(classNames.map((c, i) => [c, i]));
    raw.forEach((v, i) => (labels[i] = code.get(v)!));
  }
  return { ...m, labels, classNames };
}

/**
 * Reads a CSV of rows to predict: the columns named `featureNames` are taken
 * in that order, other columns (such as a label) are ignored. Without names,
 * the first `numFeatures` columns are taken.
 */
export async function readFeatureCsv(source: CsvSource, featureNames: string[], numFeatures: number): Promise<Matrix> {
  const what = "predict CSV";
  const table = await readCsv(source, { what, required: featureNames });
  let columns = featureNames;
  if (columns.length === 0) {
    if (table.header.length < numFeatures) {
      throw new InvalidInputError(`${what} line 1: the model expects ${numFeatures} feature columns, the file has ${table.header.length}`);
    }
    columns = table.header.slice(0, numFeatures);
  }
  return toMatrix(table, columns, what);
}
