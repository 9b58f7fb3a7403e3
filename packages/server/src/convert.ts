import type { CrfFeatureTemplate as CoreTemplate, CrfSequence as CoreSequence, NativeItem } from "@mlbridge/core";
import type { CrfSequence } from "./generated/mlbridge/v1/crf_service";
import { ModelKind, type CrfFeatureTemplate, type ModelInfo } from "./generated/mlbridge/v1/types";
import { invalid } from "./errors";
import type { ModelMeta } from "./store";

/** Store metadata → the API's ModelInfo. */
export function toModelInfo(meta: ModelMeta): ModelInfo {
  return {
    name: meta.name,
    kind: meta.kind === "crf" ? ModelKind.MODEL_KIND_CRF : ModelKind.MODEL_KIND_XGBOOST,
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

/** The API's items → the addon's, checking names and weights. */
export function toItems(seq: CrfSequence, field: string): NativeItem[] {
  return seq.items.map((item, i) =>
    item.attributes.map((a, j) => {
      if (!a.name) throw invalid(`${field}.items[${i}].attributes[${j}].name`, "required");
      const w = a.weight ?? 1;
      if (!Number.isFinite(w)) throw invalid(`${field}.items[${i}].attributes[${j}].weight`, `must be finite, got ${w}`);
      return [a.name, w] as [string, number];
    }),
  );
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
