import type { CrfFeatureTemplate as CoreTemplate, CrfSequence as CoreSequence, NativeItem, PackedSequences } from "@mlbridge/core";
import type { CrfPackedSequences, CrfSequence } from "./generated/mlbridge/v1/crf_service";
import { ModelFormat } from "./generated/mlbridge/v1/model_service";
import { ModelKind, type CrfFeatureTemplate, type ModelInfo } from "./generated/mlbridge/v1/types";
import { invalid } from "./errors";
import type { ModelMeta } from "./store";

/** A runtime's kind as the API's ModelKind (by name: `crf` is MODEL_KIND_CRF); UNSPECIFIED for a kind the API does not list. */
export function kindEnum(kind: string): ModelKind {
  const value = (ModelKind as unknown as Record<string, ModelKind | undefined>)[`MODEL_KIND_${kind.toUpperCase()}`];
  return typeof value === "number" ? value : ModelKind.MODEL_KIND_UNSPECIFIED;
}

/** The API's ModelKind as a runtime's kind (MODEL_KIND_CRF is `crf`); undefined for UNSPECIFIED or an unknown value. */
export function kindName(kind: ModelKind): string | undefined {
  const name = ModelKind[kind] as string | undefined;
  return name && kind !== ModelKind.MODEL_KIND_UNSPECIFIED ? name.replace(/^MODEL_KIND_/, "").toLowerCase() : undefined;
}

/** A format of the API (MODEL_FORMAT_XGBOOST_JSON) as a runtime's (`xgboost-json`); undefined for UNSPECIFIED or an unknown value. */
export function formatName(format: ModelFormat): string | undefined {
  const name = ModelFormat[format] as string | undefined;
  return name && format !== ModelFormat.MODEL_FORMAT_UNSPECIFIED ? name.replace(/^MODEL_FORMAT_/, "").toLowerCase().replace(/_/g, "-") : undefined;
}

/** A runtime's format as the API's enum name, for messages. */
export const formatEnumName = (format: string): string => `MODEL_FORMAT_${format.toUpperCase().replace(/-/g, "_")}`;

/** Store metadata → the API's ModelInfo. */
export function toModelInfo(meta: ModelMeta): ModelInfo {
  return {
    name: meta.name,
    kind: kindEnum(meta.kind),
    createdAt: new Date(meta.createdAt),
    parameters: meta.parameters,
    metrics: meta.metrics,
    labels: meta.labels,
    sizeBytes: meta.sizeBytes,
    sha256: meta.sha256,
    format: meta.format,
    featureNames: meta.featureNames,
    featureTemplate: meta.featureTemplate ? { features: meta.featureTemplate.map((f) => ({ column: f.column, weight: f.weight, prefix: f.prefix ?? "" })) } : undefined,
  };
}

/** The API's feature template → core's (undefined when empty). */
export function fromTemplate(t: CrfFeatureTemplate | undefined, field: string): CoreTemplate | undefined {
  if (!t || t.features.length === 0) return undefined;
  return t.features.map((f, i) => {
    if (!f.column) throw invalid(`${field}.features[${i}].column`, "required");
    if (f.weight !== undefined && !Number.isFinite(f.weight)) throw invalid(`${field}.features[${i}].weight`, "must be finite");
    return { column: f.column, weight: f.weight, prefix: f.prefix };
  });
}

/**
 * The API's items → the addon's, checking names and weights. Each item uses
 * either `attributes` or the compact `attribute_names` + `attribute_weights`.
 * @throws INVALID_ARGUMENT naming the field: both forms in one item, an empty
 *   name, a weight that is not finite, weights not one per name
 */
export function toItems(seq: CrfSequence, field: string): NativeItem[] {
  const items = seq.items;
  const out = new Array<NativeItem>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const names = item.attributeNames;
    const weights = item.attributeWeights;
    if (names.length === 0 && weights.length === 0) {
      out[i] = item.attributes.map((a, j) => attribute(a.name, a.weight ?? 1, field, i, j, false));
      continue;
    }
    if (item.attributes.length) {
      throw invalid(
        `${field}.items[${i}]`,
        `give attributes or attribute_names (with attribute_weights), not both (got ${item.attributes.length} attributes, ${names.length} attribute_names, ${weights.length} attribute_weights)`,
      );
    }
    if (weights.length !== 0 && weights.length !== names.length) {
      throw invalid(`${field}.items[${i}].attribute_weights`, `expected ${names.length} weights (one per attribute name) or none, got ${weights.length}`);
    }
    const attrs = new Array<[string, number]>(names.length);
    for (let j = 0; j < names.length; j++) {
      attrs[j] = attribute(names[j], weights.length ? weights[j] : 1, field, i, j, true);
    }
    out[i] = attrs;
  }
  return out;
}

/**
 * One checked attribute: item i's attribute j in the message form
 * (`attributes[j]`) or the compact one (`attribute_names[j]`); field names
 * are spelled out only for an error (this runs for every attribute).
 */
function attribute(name: string, weight: number, field: string, i: number, j: number, compact: boolean): [string, number] {
  if (name && !name.includes("\0") && Number.isFinite(weight)) return [name, weight];
  const at = `${field}.items[${i}]`;
  const nameField = compact ? `${at}.attribute_names[${j}]` : `${at}.attributes[${j}].name`;
  if (!name) throw invalid(nameField, "required");
  if (name.includes("\0")) throw invalid(nameField, "must not contain NUL");
  throw invalid(compact ? `${at}.attribute_weights[${j}]` : `${at}.attributes[${j}].weight`, `must be finite, got ${weight}`);
}

/**
 * The API's packed sequences → core's (typed arrays over the decoded fields;
 * core checks sizes, names and weights and names the field and position).
 */
export function toPacked(p: CrfPackedSequences): PackedSequences {
  return {
    attributeNames: p.attributeNames,
    attributeWeights: p.attributeWeights.length ? Float64Array.from(p.attributeWeights) : null,
    itemAttributeCounts: Uint32Array.from(p.itemAttributeCounts),
    sequenceLengths: Uint32Array.from(p.sequenceLengths),
  };
}

/** The API's labelled sequence → core's. */
export function toTrainingSequence(seq: CrfSequence, field: string): CoreSequence {
  const items = toItems(seq, field);
  if (items.length === 0) throw invalid(`${field}.items`, "a training sequence needs at least one item");
  if (seq.labels.length !== items.length) throw invalid(`${field}.labels`, `expected ${items.length} labels (one per item), got ${seq.labels.length}`);
  seq.labels.forEach((l, i) => {
    if (!l) throw invalid(`${field}.labels[${i}]`, "empty label");
  });
  return { items, labels: seq.labels };
}
