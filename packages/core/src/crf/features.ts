import type { NativeItem } from "../binding";
import { InvalidInputError, invalidArgument } from "../errors";

/** One feature of a template: the attribute `prefix + value of column`, with a weight. */
export interface CrfFeature {
  /** CSV column read. */
  column: string;
  /** Attribute weight (scaling value); 1 when absent. */
  weight?: number;
  /** Text put before the value to form the attribute name ("" when absent). */
  prefix?: string;
}

/** A feature template: the features of each item, in order. */
export type CrfFeatureTemplate = CrfFeature[];

/** CRFsuite training algorithms. */
export const CRF_ALGORITHMS = ["lbfgs", "l2sgd", "ap", "pa", "arow"] as const;
export type CrfAlgorithm = (typeof CRF_ALGORITHMS)[number];

/** A named preset: a template and the algorithm it is meant for. */
export interface CrfPreset {
  template: CrfFeatureTemplate;
  algorithm: CrfAlgorithm;
  /** CRFsuite parameters the preset sets (overridable). */
  params: Record<string, string>;
}

const rich = (cols: string[]): CrfFeatureTemplate => cols.map((column) => ({ column, prefix: `${column}=` }));

/**
 * Feature presets.
 * - `book`: the book's features (lemma 1.0, next-lemma 0.5, no prefixes) and algorithm (AROW).
 * - `rich`: the token and its neighbours' word, lemma, POS and shape, prefixed by
 *   column; L-BFGS. The `prev-iob` columns are deliberately left out: they hold the
 *   gold tags of the previous tokens, which a real tagger does not know.
 */
export const CRF_PRESETS: Record<string, CrfPreset> = {
  book: {
    template: [
      { column: "lemma", weight: 1.0 },
      { column: "next-lemma", weight: 0.5 },
    ],
    algorithm: "arow",
    params: {},
  },
  rich: {
    template: rich([
      "word",
      "lemma",
      "pos",
      "shape",
      "prev-word",
      "prev-lemma",
      "prev-pos",
      "prev-shape",
      "next-word",
      "next-lemma",
      "next-pos",
      "next-shape",
      "prev-prev-lemma",
      "prev-prev-pos",
      "next-next-lemma",
      "next-next-pos",
    ]),
    algorithm: "lbfgs",
    params: {},
  },
};

/** The preset used when none is named. */
export const DEFAULT_CRF_PRESET = "rich";

/**
 * Returns a preset by name.
 * @throws InvalidInputError naming the known presets.
 */
export function crfPreset(name: string): CrfPreset {
  const p = Object.hasOwn(CRF_PRESETS, name) ? CRF_PRESETS[name] : undefined;
  if (!p) throw new InvalidInputError(`feature_preset: unknown preset ${JSON.stringify(name)} (known: ${Object.keys(CRF_PRESETS).join(", ")})`);
  return p;
}

/**
 * Checks a template: non-empty, every column a non-empty string, weights finite.
 * @throws InvalidInputError naming the feature.
 */
export function validateTemplate(template: CrfFeatureTemplate, name = "feature_template"): void {
  if (!Array.isArray(template) || template.length === 0) throw invalidArgument(name, "a non-empty list of features", template);
  template.forEach((f, i) => {
    if (typeof f.column !== "string" || f.column.length === 0) throw invalidArgument(`${name}[${i}].column`, "a column name", f.column);
    if (f.weight !== undefined && !Number.isFinite(f.weight)) throw invalidArgument(`${name}[${i}].weight`, "a finite number", f.weight);
    if (f.prefix !== undefined && typeof f.prefix !== "string") throw invalidArgument(`${name}[${i}].prefix`, "a string", f.prefix);
  });
}

/** Columns a template reads. */
export function templateColumns(template: CrfFeatureTemplate): string[] {
  return [...new Set(template.map((f) => f.column))];
}

/** A compiled template: column indices resolved against a CSV header. */
export type CompiledTemplate = { index: number; weight: number; prefix: string }[];

/** Resolves a template's columns against a header's column index. */
export function compileTemplate(template: CrfFeatureTemplate, index: Map<string, number>): CompiledTemplate {
  return template.map((f) => {
    const i = index.get(f.column);
    if (i === undefined) throw new InvalidInputError(`missing column ${JSON.stringify(f.column)} needed by the feature template`);
    return { index: i, weight: f.weight ?? 1, prefix: f.prefix ?? "" };
  });
}

/** Builds one item's attributes from a CSV row. Empty values give no attribute. */
export function itemFromRow(row: string[], compiled: CompiledTemplate): NativeItem {
  const item: NativeItem = [];
  for (const f of compiled) {
    const v = row[f.index];
    if (v !== undefined && v !== "") item.push([f.prefix + v, f.weight]);
  }
  return item;
}
