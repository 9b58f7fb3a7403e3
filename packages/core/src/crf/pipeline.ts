import type { CsvSource } from "../data/csv";
import { CancelledError, invalidArgument } from "../errors";
import { seededSplit } from "../random";
import { countItems, readNerCsv, type CrfSequence } from "./data";
import { crfPreset, DEFAULT_CRF_PRESET, validateTemplate, type CrfAlgorithm, type CrfFeatureTemplate } from "./features";
import { accuracyLine, crfMetrics, type CrfMetrics } from "./metrics";
import { CrfModel } from "./model";
import { checkAlgorithm, trainCrf, type CrfProgress } from "./train";

/** Options of fitting a CRF tagger. */
export interface CrfFitOptions {
  /** Feature preset (`book` or `rich`); default `rich`. Ignored when `template` is given. */
  preset?: string;
  /** A custom feature template (overrides the preset's). */
  template?: CrfFeatureTemplate;
  /** Algorithm; default the preset's. */
  algorithm?: CrfAlgorithm;
  /** CRFsuite parameters (over the preset's). */
  params?: Record<string, string | number>;
  /** Share of sequences held out for evaluation, in [0, 0.9]; default 0.2. */
  testFraction?: number;
  /** Train on everything, no metrics. */
  noHoldout?: boolean;
  /** Seed of the split; default 0. */
  seed?: number;
  /** Cancels the training. */
  signal?: AbortSignal;
  /** One event per iteration. */
  onProgress?: (p: CrfProgress) => void;
  /** Nice increment of the training process (see trainCrf); default the configured one. */
  nice?: number;
}

/** A fitted CRF tagger and how it was made. */
export interface CrfFitResult {
  model: CrfModel;
  template: CrfFeatureTemplate;
  preset: string | undefined;
  algorithm: CrfAlgorithm;
  params: Record<string, string>;
  metrics?: CrfMetrics;
  accuracyLine?: string;
  trainSequences: number;
  testSequences: number;
  trainTokens: number;
  testTokens: number;
  seconds: number;
  iterations: number;
}

interface Resolved {
  template: CrfFeatureTemplate;
  preset: string | undefined;
  algorithm: CrfAlgorithm;
  params: Record<string, string | number>;
}

/** Resolves preset, template, algorithm and parameters. */
export function resolveCrfOptions(o: CrfFitOptions): Resolved {
  const presetName = o.template ? o.preset : (o.preset || DEFAULT_CRF_PRESET);
  const preset = presetName ? crfPreset(presetName) : undefined;
  const template = o.template ?? preset!.template;
  validateTemplate(template);
  const algorithm = o.algorithm ?? preset?.algorithm ?? "lbfgs";
  checkAlgorithm(algorithm);
  return { template, preset: presetName, algorithm, params: { ...(preset?.params ?? {}), ...(o.params ?? {}) } };
}

function checkFraction(testFraction: number | undefined): number {
  const f = testFraction ?? 0.2;
  if (typeof f !== "number" || !Number.isFinite(f) || f < 0 || f > 0.9) throw invalidArgument("test_fraction", "a number in [0, 0.9]", f);
  return f;
}

/**
 * Fits a tagger on labelled sequences: splits by sequence (seeded), trains
 * (off the event loop, in a child process), and scores the holdout part.
 */
export async function fitCrf(sequences: CrfSequence[], options: CrfFitOptions, resolved = resolveCrfOptions(options)): Promise<CrfFitResult> {
  const fraction = options.noHoldout ? 0 : checkFraction(options.testFraction);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw invalidArgument("seed", "a non-negative integer", seed);
  let train = sequences;
  let test: CrfSequence[] = [];
  if (fraction > 0) {
    if (sequences.length < 2) throw invalidArgument("data", "at least 2 sentences to hold some out (or no_holdout)", sequences);
    const [testIdx, trainIdx] = seededSplit(sequences.length, [fraction], seed);
    test = testIdx.map((i) => sequences[i]);
    train = trainIdx.map((i) => sequences[i]);
  }
  const trained = await trainCrf(train, { algorithm: resolved.algorithm, params: resolved.params, signal: options.signal, onProgress: options.onProgress, nice: options.nice });
  if (options.signal?.aborted) throw new CancelledError("training cancelled");
  const model = CrfModel.fromBuffer(trained.model);
  let metrics: CrfMetrics | undefined;
  if (test.length) {
    const tagged = await model.tagMany(test.map((s) => s.items));
    metrics = crfMetrics(
      tagged.map((t) => t.labels),
      test.map((s) => s.labels!),
    );
  }
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(resolved.params)) params[k] = String(v);
  return {
    model,
    template: resolved.template,
    preset: resolved.preset,
    algorithm: resolved.algorithm,
    params,
    metrics,
    accuracyLine: metrics ? accuracyLine(metrics) : undefined,
    trainSequences: train.length,
    testSequences: test.length,
    trainTokens: countItems(train),
    testTokens: countItems(test),
    seconds: trained.seconds,
    iterations: trained.iterations,
  };
}

/** Fits a tagger on a CSV in the book's NER format (the book's `fit(path)`). */
export async function fitCrfCsv(source: CsvSource, options: CrfFitOptions = {}): Promise<CrfFitResult> {
  const resolved = resolveCrfOptions(options);
  const data = await readNerCsv(source, resolved.template, true);
  return fitCrf(data.sequences, options, resolved);
}

/**
 * Tags a CSV in the book's predict format (the book's `predict(path)`):
 * one label per row, in file order. Sentences are tagged as sequences.
 */
export async function predictCrfCsv(model: CrfModel, source: CsvSource, template: CrfFeatureTemplate): Promise<string[]> {
  const data = await readNerCsv(source, template, false);
  const tagged = await model.tagMany(data.sequences.map((s) => s.items));
  return tagged.flatMap((t) => t.labels);
}
