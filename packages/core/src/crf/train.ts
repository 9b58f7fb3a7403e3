import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { binding, type NativeCrfTrainer, type NativeItem } from "../binding";
import { CancelledError, InvalidInputError, MlBridgeError, callNative, invalidArgument, type ErrorCode } from "../errors";
import type { CrfSequence } from "./data";
import { CRF_ALGORITHMS, type CrfAlgorithm, type CrfFeatureTemplate } from "./features";
import type { CrfMetrics } from "./metrics";
import { isCrfName, packLabels, packValidSequences, validateItems } from "./packed";
import { checkNice, checkThreads, crfTrainingSettings, runInTrainingProcess } from "./train-process";

export {
  configureCrfTraining,
  crfTrainingProcesses,
  crfTrainingSettings,
  disposeCrfTraining,
  prewarmCrfTraining,
  type CrfTrainingSettings,
} from "./train-process";

/** Progress of a CRF training, one event per iteration (epoch). */
export interface CrfProgress {
  /** Iteration just finished, from 1. */
  iteration: number;
  /** Loss after the iteration, when the algorithm reports one. */
  loss?: number;
  /** Feature norm after the iteration. */
  featureNorm?: number;
  /** Active (non-zero) features, where reported (L-BFGS). */
  activeFeatures?: number;
  /** Seconds CRFsuite spent on the iteration (CPU clock). */
  iterationSeconds?: number;
  /** Wall-clock seconds since the training started. */
  elapsedSeconds: number;
}

/** Options of trainCrf. */
export interface CrfTrainOptions {
  /** Training algorithm. */
  algorithm: CrfAlgorithm;
  /** CRFsuite parameters by name; values as strings or numbers. */
  params?: Record<string, string | number>;
  /** Cancels the training: the training process is killed and nothing is returned. */
  signal?: AbortSignal;
  /** Receives one event per iteration. */
  onProgress?: (progress: CrfProgress) => void;
  /** Receives every line of CRFsuite's log. */
  onLog?: (line: string) => void;
  /**
   * Added to this process's nice value for the training process (0–19); default
   * the configured one (configureCrfTraining: MLBRIDGE_TRAIN_NICE, else 19).
   */
  nice?: number;
}

/** Result of trainCrf. */
export interface CrfTrainResult {
  /** The CRFsuite model file's bytes. */
  model: Buffer;
  /** Iterations run. */
  iterations: number;
  /** Wall-clock seconds of the training (call to model bytes). */
  seconds: number;
  /** Process id of the training process that trained it. */
  pid: number;
}

/** Checks an algorithm name. */
export function checkAlgorithm(algorithm: unknown): asserts algorithm is CrfAlgorithm {
  if (typeof algorithm !== "string" || !(CRF_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw invalidArgument("algorithm", `one of ${CRF_ALGORITHMS.join(", ")}`, algorithm);
  }
}

/** A parameter of a CRFsuite algorithm, as the library describes it. */
export interface CrfParamInfo {
  name: string;
  type: string;
  default: string;
  help: string;
}

function withTrainer<T>(algorithm: CrfAlgorithm, fn: (t: NativeCrfTrainer) => T): T {
  const trainer = callNative(() => new (binding().CrfTrainer)(algorithm));
  try {
    return fn(trainer);
  } finally {
    trainer.dispose();
  }
}

/** Each algorithm's parameters, read from CRFsuite once (they never change). */
const paramsByAlgorithm = new Map<CrfAlgorithm, readonly CrfParamInfo[]>();

/** Lists an algorithm's parameters with their types, defaults and help. */
export function crfParams(algorithm: CrfAlgorithm): CrfParamInfo[] {
  checkAlgorithm(algorithm);
  let known = paramsByAlgorithm.get(algorithm);
  if (!known) {
    known = withTrainer(algorithm, (t) =>
      t
        .params()
        // The encoder's `threads` (crf_threads.c) is read by L-BFGS only: the online algorithms do not offer it.
        .filter((name) => name !== "threads" || algorithm === "lbfgs")
        .map((name) => {
          const h = t.help(name);
          const m = /^(\w+):\s*(.*)$/s.exec(h);
          return { name, type: m ? m[1] : "string", default: t.get(name), help: m ? m[2] : h };
        }),
    );
    paramsByAlgorithm.set(algorithm, known);
  }
  // `threads` defaults to the training settings' count, not the encoder's 1.
  return known.map((p) => (p.name === "threads" ? { ...p, default: String(crfTrainingSettings().threads) } : { ...p }));
}

/**
 * Checks parameters against the algorithm's: known names, values of the right type.
 * @throws InvalidInputError naming the parameter.
 */
export function checkCrfParams(algorithm: CrfAlgorithm, params: Record<string, string | number>): Record<string, string> {
  const known = new Map(crfParams(algorithm).map((p) => [p.name, p]));
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(params)) {
    const info = known.get(name);
    if (!info) throw new InvalidInputError(`parameters.${name}: unknown parameter of ${algorithm} (known: ${[...known.keys()].join(", ")})`);
    const value = String(raw).trim();
    if (info.type === "int" && !/^-?\d+$/.test(value)) throw invalidArgument(`parameters.${name}`, "an integer", raw);
    if ((info.type === "float" || info.type === "double") && !Number.isFinite(Number(value))) {
      throw invalidArgument(`parameters.${name}`, "a finite number", raw);
    }
    if ((info.type === "int" || info.type === "float" || info.type === "double") && Number(value) < 0) {
      throw invalidArgument(`parameters.${name}`, "a number >= 0", raw);
    }
    if (name === "threads") checkThreads(Number(value), "parameters.threads");
    out[name] = value;
  }
  return out;
}

/**
 * checkCrfParams, plus L-BFGS's `threads` from the training settings when the
 * parameters leave it out (crfTrainingSettings().threads).
 */
export function trainingParams(algorithm: CrfAlgorithm, params: Record<string, string | number>): Record<string, string> {
  const out = checkCrfParams(algorithm, params);
  if (algorithm === "lbfgs" && out.threads === undefined) out.threads = String(crfTrainingSettings().threads);
  return out;
}

/**
 * Checks training sequences: non-empty, one non-empty label per item.
 * @throws InvalidInputError naming the sequence.
 */
export function checkTrainingSequences(sequences: CrfSequence[], name = "sequences"): void {
  if (!Array.isArray(sequences) || sequences.length === 0) throw invalidArgument(name, "at least one sequence", sequences);
  sequences.forEach((s, i) => {
    if (!s.labels || s.labels.length !== s.items.length) {
      throw invalidArgument(`${name}[${i}].labels`, `${s.items.length} labels (one per item)`, s.labels);
    }
    if (s.items.length === 0) throw invalidArgument(`${name}[${i}].items`, "at least one item", s.items);
    validateItems(s.items, `${name}[${i}].items`);
    s.labels.forEach((l, j) => {
      if (!isCrfName(l)) throw invalidArgument(`${name}[${i}].labels[${j}]`, "a non-empty label without NUL", l);
    });
  });
}

/** Folds CRFsuite's log lines into per-iteration progress events. */
export class CrfLogParser {
  private current: Partial<CrfProgress> & { iteration?: number } = {};
  iterations = 0;
  constructor(
    private readonly start: number,
    private readonly emit: (p: CrfProgress) => void,
  ) {}

  push(line: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^\*{5} (?:Iteration|Epoch) #(\d+) \*{5}/.exec(line))) {
      this.current = { iteration: Number(m[1]) };
    } else if (this.current.iteration === undefined) {
      return;
    } else if ((m = /^Loss: ([-+\d.eE]+|nan|inf)/.exec(line))) {
      this.current.loss = Number(m[1]);
    } else if ((m = /^Feature (?:L2-)?norm: ([-+\d.eE]+)/.exec(line))) {
      this.current.featureNorm = Number(m[1]);
    } else if ((m = /^Active features: (\d+)/.exec(line))) {
      this.current.activeFeatures = Number(m[1]);
    } else if ((m = /^Seconds required for this iteration: ([\d.]+)/.exec(line))) {
      this.current.iterationSeconds = Number(m[1]);
      const p = { ...this.current, elapsedSeconds: (performance.now() - this.start) / 1000 } as CrfProgress;
      this.iterations = p.iteration;
      this.current = {};
      this.emit(p);
    }
  }
}

/** What the training process read from a CSV and held out (trainCrfCsv). */
export interface CrfCsvCounts {
  trainSequences: number;
  testSequences: number;
  trainTokens: number;
  testTokens: number;
}

/** Message from the training process. */
type WorkerMessage =
  | { type: "log"; lines: string[] }
  | { type: "parsed"; counts: CrfCsvCounts }
  | { type: "done"; metrics?: CrfMetrics }
  | { type: "error"; code: ErrorCode; message: string };

/** Bytes per CSV message to the training process: each is serialized on the event loop, so none is large. */
const CSV_CHUNK = 1024 * 1024;

/**
 * Attributes per data message to the training process (a packed part, ~30 KB
 * with the book's features): small enough that the process appends one part
 * while the next is packed and sent, even for small data sets, and that
 * packing one never holds the event loop. Measured (median of 9 one-iteration
 * trainings, time until CRFsuite's feature generation is done): ner_large
 * (125k attributes) 76 ms at 2048, 88 ms at 16384, 92 ms at 65536; ner.csv
 * 16 / 23 / 20 ms. (With JSON parts: ~140 ms at 2048, ~330 ms in one message.)
 */
const CHUNK_ATTRIBUTES = 2048;

/** Name of the model file in its temporary folder. */
const MODEL_FILE = "model.crfsuite";

/** Data messages written to the IPC channel and not yet flushed, at most. */
const MAX_IN_FLIGHT = 2;

/**
 * Trains a CRFsuite crf1d model in a separate process, so that the event loop
 * never waits for it, a crash inside the library cannot take the caller down,
 * and cancellation (which CRFsuite itself does not offer) frees everything at
 * once: the process is killed.
 *
 * The process is normally one started ahead (see configureCrfTraining and
 * prewarmCrfTraining), at a lower CPU priority than the caller (`nice`). The
 * sequences go to it packed, in parts, appended as they arrive, so that
 * packing, sending and CRFsuite's own appending overlap; they are read over
 * the first event-loop turns of the call, so do not change them before the
 * first progress event (or the result).
 *
 * @throws InvalidInputError for bad sequences, algorithm or parameters
 * @throws CancelledError when `signal` aborts
 * @throws MlBridgeError CRFSUITE_ERROR / INTERNAL when the library or process fails
 */
export async function trainCrf(sequences: CrfSequence[], options: CrfTrainOptions): Promise<CrfTrainResult> {
  const start = performance.now();
  checkAlgorithm(options.algorithm);
  checkTrainingSequences(sequences);
  const params = trainingParams(options.algorithm, options.params ?? {});
  const nice = options.nice === undefined ? crfTrainingSettings().nice : checkNice(options.nice, "nice");
  if (options.signal?.aborted) throw new CancelledError("training cancelled");
  const { result } = await trainInProcess(options, nice, start, async (send, settled) => {
    const inFlight: Promise<void>[] = [send({ type: "start", algorithm: options.algorithm, params })];
    let i = 0;
    while (i < sequences.length && !settled()) {
      const items: NativeItem[][] = [];
      const labels: string[] = [];
      let attributes = 0;
      while (i < sequences.length && attributes < CHUNK_ATTRIBUTES) {
        const s = sequences[i++];
        items.push(s.items);
        for (const l of s.labels!) labels.push(l);
        for (const item of s.items) attributes += item.length;
      }
      // Packed: typed arrays and byte buffers, which the IPC channel's
      // structured clone copies as they are, and one native call appends.
      inFlight.push(send({ type: "data", packed: packValidSequences(items), labels: packLabels(labels) }));
      if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
    }
  });
  return result;
}

/** What trainCrfCsv reads, holds out and scores. */
export interface CrfCsvTrainSpec {
  /** The feature template that builds each token's attributes from its row. */
  template: CrfFeatureTemplate;
  /** Share of sentences held out and scored, in [0, 0.9]; 0 trains on all. */
  testFraction: number;
  /** Seed of the sentence split. */
  seed: number;
}

/**
 * trainCrf on a CSV in the book's NER format, read by the training process
 * itself: the CSV's bytes go to it in 1 MiB messages, and it parses, splits
 * (seededSplit, as fitCrf), trains and scores the held-out part, so that
 * neither the parsing nor the data's memory is the calling process's.
 * @throws InvalidInputError naming the CSV line, as readNerCsv; and as trainCrf
 */
export async function trainCrfCsv(
  csv: Uint8Array,
  spec: CrfCsvTrainSpec,
  options: CrfTrainOptions,
): Promise<CrfTrainResult & { counts: CrfCsvCounts; metrics?: CrfMetrics }> {
  const start = performance.now();
  checkAlgorithm(options.algorithm);
  const params = trainingParams(options.algorithm, options.params ?? {});
  const nice = options.nice === undefined ? crfTrainingSettings().nice : checkNice(options.nice, "nice");
  if (options.signal?.aborted) throw new CancelledError("training cancelled");
  const { result, counts, metrics } = await trainInProcess(options, nice, start, async (send, settled) => {
    const inFlight: Promise<void>[] = [];
    for (let at = 0; at < csv.length && !settled(); at += CSV_CHUNK) {
      inFlight.push(send({ type: "csv", bytes: csv.subarray(at, at + CSV_CHUNK) }));
      if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
    }
    if (!settled())
      await send({ type: "fitCsv", algorithm: options.algorithm, params, template: spec.template, testFraction: spec.testFraction, seed: spec.seed });
  });
  return { ...result, counts: counts!, metrics };
}

/**
 * Runs one training in a training process: `feed` sends the data messages
 * (`settled()` turns true once the training failed or was cancelled), then
 * "end" asks for the model.
 */
async function trainInProcess(
  options: CrfTrainOptions,
  nice: number,
  start: number,
  feed: (send: (msg: unknown) => Promise<void>, settled: () => boolean) => Promise<void>,
): Promise<{ result: CrfTrainResult; counts?: CrfCsvCounts; metrics?: CrfMetrics }> {
  const parser = new CrfLogParser(start, (p) => options.onProgress?.(p));
  let counts: CrfCsvCounts | undefined;
  let metrics: CrfMetrics | undefined;
  // The model's folder, made while the data goes out (the path goes with "end").
  const dir = mkdtemp(path.join(os.tmpdir(), "mlbridge-crf-"));
  dir.catch(() => undefined);
  return runInTrainingProcess({
    nice,
    signal: options.signal,
    message(msg, done, pid) {
      const m = msg as unknown as WorkerMessage;
      if (m.type === "log") {
        for (const line of m.lines) {
          options.onLog?.(line);
          parser.push(line);
        }
      } else if (m.type === "parsed") {
        counts = m.counts;
      } else if (m.type === "done") {
        metrics = m.metrics;
        done(async () => {
          const bytes = await readFile(path.join(await dir, MODEL_FILE));
          return { result: { model: bytes, iterations: parser.iterations, seconds: (performance.now() - start) / 1000, pid }, counts, metrics };
        });
      }
    },
    async feed(send, settled) {
      await feed(send, settled);
      let file: string;
      try {
        file = path.join(await dir, MODEL_FILE);
      } catch (err) {
        throw new MlBridgeError("INTERNAL", `cannot make a temporary folder for the model: ${(err as Error).message}`);
      }
      if (!settled()) await send({ type: "end", file });
    },
    // Removes the model's folder once no process can still write into it.
    afterExit: () => void dir.then((d) => rm(d, { recursive: true, force: true })).catch(() => undefined),
  });
}
