import type { CrfFeatureTemplate as CoreTemplate, PackedSequences } from "@mlbridge/core";
import type { CrfPackedSequences } from "./generated/mlbridge/v1/crf_service";
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
  return name && format !== ModelFormat.MODEL_FORMAT_UNSPECIFIED
    ? name
        .replace(/^MODEL_FORMAT_/, "")
        .toLowerCase()
        .replace(/_/g, "-")
    : undefined;
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
    version: meta.version ?? 1,
    featureTemplate: meta.featureTemplate
      ? { features: meta.featureTemplate.map((f) => ({ column: f.column, weight: f.weight, prefix: f.prefix ?? "" })) }
      : undefined,
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
