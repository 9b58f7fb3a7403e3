/**
 * @mlbridge/core — the book's two pipelines (CRFsuite NER, XGBoost iris) and
 * the word count as a typed library over the native addon.
 */
export * from "./errors";
export { binding, bindingPath } from "./binding";
export { trimNativeHeap } from "./memory";
export { lockFile, type FileLock } from "./filelock";
export type { NativeItem, NativeAttribute, PackedSequences } from "./binding";
export { readCsv, type CsvSource, type CsvTable } from "./data/csv";
export * from "./data/float32";
export { seededSplit, shuffledIndices } from "./random";
export * from "./text/wordcount";
export * from "./crf/features";
export * from "./crf/data";
export * from "./crf/metrics";
export * from "./crf/model";
export * from "./crf/packed";
export * from "./crf/train";
export * from "./crf/pipeline";
export * from "./xgboost/data";
export * from "./xgboost/params";
export * from "./xgboost/model";
export * from "./xgboost/train";
export * from "./xgboost/pipeline";
export * from "./runtime";
export { crfRuntime, parseAttributes } from "./crf/runtime";
export { xgboostRuntime } from "./xgboost/runtime";
