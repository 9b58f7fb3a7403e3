import { readFile } from "node:fs/promises";
import type { CsvSource } from "../data/csv";
import { CancelledError, InvalidInputError, MlBridgeError, invalidArgument } from "../errors";
import { seededSplit } from "../random";
import { countItems, readNerCsvPacked, type CrfSequence } from "./data";
import { crfPreset, DEFAULT_CRF_PRESET, validateTemplate, type CrfAlgorithm, type CrfFeatureTemplate } from "./features";
import { accuracyLine, crfMetrics, type CrfMetrics } from "./metrics";
import { CrfModel } from "./model";
import { checkAlgorithm, checkCrfParams, trainCrf, trainCrfCsv, type CrfCsvCounts, type CrfProgress } from "./train";

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

/**
 * Resolves preset, template, algorithm and parameters, checking each (the
 * parameters against the algorithm's: a caller gets the error before sending
 * any data).
 * @throws InvalidInputError naming the option or parameter
 */
export function resolveCrfOptions(o: CrfFitOptions): Resolved {
  const presetName = o.template ? o.preset : o.preset || DEFAULT_CRF_PRESET;
  const preset = presetName ? crfPreset(presetName) : undefined;
  const template = o.template ?? preset!.template;
  validateTemplate(template);
  const algorithm = o.algorithm ?? preset?.algorithm ?? "lbfgs";
  checkAlgorithm(algorithm);
  const params = { ...(preset?.params ?? {}), ...(o.params ?? {}) };
  checkCrfParams(algorithm, params);
  return { template, preset: presetName, algorithm, params };
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
  const seed = checkSeed(options.seed);
  const { train, test } = splitSequences(sequences, fraction, seed);
  const trained = await trainCrf(train, {
    algorithm: resolved.algorithm,
    params: resolved.params,
    signal: options.signal,
    onProgress: options.onProgress,
    nice: options.nice,
  });
  if (options.signal?.aborted) throw new CancelledError("training cancelled");
  const model = CrfModel.fromBuffer(trained.model);
  const metrics = await scoreHoldout(model, test);
  const counts = { trainSequences: train.length, testSequences: test.length, trainTokens: countItems(train), testTokens: countItems(test) };
  return fitResult(model, resolved, metrics, counts, trained.seconds, trained.iterations);
}

function checkSeed(seed: number | undefined): number {
  const s = seed ?? 0;
  if (!Number.isSafeInteger(s) || s < 0) throw invalidArgument("seed", "a non-negative integer", s);
  return s;
}

/**
 * Splits sentences (seeded) into a training part and a held-out part of
 * `fraction` of them; with fraction 0 all are for training.
 * @throws INVALID_ARGUMENT when there are fewer than 2 sentences to split
 */
export function splitSequences(sequences: CrfSequence[], fraction: number, seed: number): { train: CrfSequence[]; test: CrfSequence[] } {
  if (fraction <= 0) return { train: sequences, test: [] };
  if (sequences.length < 2) throw invalidArgument("data", "at least 2 sentences to hold some out (or no_holdout)", sequences);
  const [testIdx, trainIdx] = seededSplit(sequences.length, [fraction], seed);
  return { test: testIdx.map((i) => sequences[i]), train: trainIdx.map((i) => sequences[i]) };
}

/** The model's metrics on held-out sentences (tagged off the event loop), or undefined without any. */
export async function scoreHoldout(model: CrfModel, test: CrfSequence[]): Promise<CrfMetrics | undefined> {
  if (!test.length) return undefined;
  const tagged = await model.tagMany(test.map((s) => s.items));
  return crfMetrics(
    tagged.map((t) => t.labels),
    test.map((s) => s.labels!),
  );
}

function fitResult(
  model: CrfModel,
  resolved: Resolved,
  metrics: CrfMetrics | undefined,
  counts: CrfCsvCounts,
  seconds: number,
  iterations: number,
): CrfFitResult {
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
    ...counts,
    seconds,
    iterations,
  };
}

/**
 * Fits a tagger on a CSV in the book's NER format (the book's `fit(path)`):
 * the same split, training and scoring as fitCrf, all of it in the training
 * process (trainCrfCsv), so a large upload neither blocks the event loop nor
 * stays in this process's memory.
 */
export async function fitCrfCsv(source: CsvSource, options: CrfFitOptions = {}, resolved = resolveCrfOptions(options)): Promise<CrfFitResult> {
  const fraction = options.noHoldout ? 0 : checkFraction(options.testFraction);
  const seed = checkSeed(options.seed);
  const csv = typeof source === "string" ? await readSource(source) : source instanceof Uint8Array ? source : await collect(source);
  const trained = await trainCrfCsv(
    csv,
    { template: resolved.template, testFraction: fraction, seed },
    { algorithm: resolved.algorithm, params: resolved.params, signal: options.signal, onProgress: options.onProgress, nice: options.nice },
  );
  if (options.signal?.aborted) throw new CancelledError("training cancelled");
  return fitResult(CrfModel.fromBuffer(trained.model), resolved, trained.metrics, trained.counts, trained.seconds, trained.iterations);
}

/** A file's bytes, with readCsv's error for a missing file. */
async function readSource(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new MlBridgeError("NOT_FOUND", `file not found: ${file}`);
    throw new InvalidInputError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

async function collect(chunks: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(typeof c === "string" ? Buffer.from(c, "utf8") : Buffer.from(c));
  return Buffer.concat(parts);
}

/**
 * Tags a CSV in the book's predict format (the book's `predict(path)`):
 * one label per row, in file order. Sentences are tagged as sequences.
 * The event loop is not blocked: a large input is parsed on a worker thread
 * and tagged on the addon's.
 */
export async function predictCrfCsv(model: CrfModel, source: CsvSource, template: CrfFeatureTemplate): Promise<string[]> {
  // Packed (and, for a large input, parsed on a worker thread; tagged off the event loop).
  const data = await readNerCsvPacked(source, template, false);
  const { paths } = await model.tagPacked(data.packed);
  const labels = model.labels;
  return Array.from(paths, (k) => labels[k]);
}
