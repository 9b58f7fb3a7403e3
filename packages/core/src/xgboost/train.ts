import { binding, type NativeBooster, type NativeDMatrix } from "../binding";
import { CancelledError, InvalidInputError, MlBridgeError, awaitNative, callNative, invalidArgument, type ErrorCode } from "../errors";
import { crfTrainingSettings, runInTrainingProcess } from "../crf/train-process";
import { seededSplit } from "../random";
import { XgbModel } from "./model";
import { checkXgbParams, xgbPreset } from "./params";

/** Labelled rows to train on. */
export interface XgbTrainData {
  /** rows × cols features, row-major; NaN = missing. */
  values: Float32Array;
  rows: number;
  cols: number;
  /** One label per row. */
  labels: Float32Array;
  /** Optional instance weights, one per row. */
  weights?: Float32Array;
  /** Feature names (cols of them), or []. */
  featureNames?: string[];
  /** Class names by label index (classifiers), or []. */
  classNames?: string[];
}

/** Progress of one boosting round. */
export interface XgbProgress {
  /** Round just finished, from 1. */
  iteration: number;
  /** XGBoost's evaluation line, e.g. "[0]\ttrain-merror:0.04444\ttest-merror:0.06667". */
  evalLog: string;
  /** The line's metrics by name. */
  metrics: Record<string, number>;
  /** Wall-clock seconds since the training started. */
  elapsedSeconds: number;
}

/** Options of trainXgboost. */
export interface XgbTrainOptions {
  /** A named preset (`iris`). */
  preset?: string;
  /** XGBoost parameters over the preset's. */
  params?: Record<string, string | number>;
  /** Boosting rounds; default the preset's or 10. */
  numRounds?: number;
  /** Test share in [0, 0.9]; default the preset's or 0.2. */
  testFraction?: number;
  /** Validation share in [0, 0.9]; default the preset's or 0. */
  validationFraction?: number;
  /** Seed of the row split; default 0. */
  seed?: number;
  /** Cancels between rounds. */
  signal?: AbortSignal;
  /** One event per round. */
  onProgress?: (p: XgbProgress) => void;
}

/** A trained booster and how it did. */
export interface XgbTrainResult {
  model: XgbModel;
  params: Record<string, string>;
  rounds: number;
  trainRows: number;
  testRows: number;
  validationRows: number;
  /** Metrics of the last round's evaluation line. */
  metrics: Record<string, number>;
  /** Share of validation rows classified right (classifiers with a validation set). */
  validationAccuracy?: number;
  seconds: number;
}

/** Parses "[3]\ttrain-merror:0.1\ttest-merror:0.2" into metrics. */
export function parseEvalLog(line: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of line.split("\t").slice(1)) {
    const i = part.lastIndexOf(":");
    if (i > 0) out[part.slice(0, i)] = Number(part.slice(i + 1));
  }
  return out;
}

function subset(data: XgbTrainData, idx: number[]): { values: Float32Array; labels: Float32Array; weights?: Float32Array } {
  const { cols } = data;
  const values = new Float32Array(idx.length * cols);
  const labels = new Float32Array(idx.length);
  const weights = data.weights ? new Float32Array(idx.length) : undefined;
  idx.forEach((r, i) => {
    values.set(data.values.subarray(r * cols, (r + 1) * cols), i * cols);
    labels[i] = data.labels[r];
    if (weights) weights[i] = data.weights![r];
  });
  return { values, labels, weights };
}

function fraction(v: number | undefined, fallback: number, name: string): number {
  const f = v ?? fallback;
  if (typeof f !== "number" || !Number.isFinite(f) || f < 0 || f > 0.9) throw invalidArgument(name, "a number in [0, 0.9]", f);
  return f;
}

/** Checks the training data's shapes and values. */
function checkData(d: XgbTrainData): void {
  if (!(d.values instanceof Float32Array)) throw invalidArgument("values", "a Float32Array", d.values);
  if (!Number.isInteger(d.rows) || d.rows <= 0) throw invalidArgument("rows", "a positive integer", d.rows);
  if (!Number.isInteger(d.cols) || d.cols <= 0) throw invalidArgument("cols", "a positive integer", d.cols);
  if (d.values.length !== d.rows * d.cols) throw invalidArgument("values", `${d.rows}×${d.cols} values`, d.values);
  if (!(d.labels instanceof Float32Array) || d.labels.length !== d.rows) throw invalidArgument("labels", `${d.rows} labels`, d.labels);
  d.labels.forEach((l, i) => {
    if (!Number.isFinite(l)) throw invalidArgument(`labels[${i}]`, "a finite number", l);
  });
  if (d.weights && d.weights.length !== d.rows) throw invalidArgument("weights", `${d.rows} weights`, d.weights);
  if (d.featureNames?.length && d.featureNames.length !== d.cols) throw invalidArgument("feature_names", `${d.cols} names`, d.featureNames);
}

/** What a training will do, once its data and options are checked. */
interface XgbPlan {
  params: Record<string, string>;
  numRounds: number;
  /** Row indices of each part (empty without `split`). */
  testIdx: number[];
  valIdx: number[];
  trainIdx: number[];
}

/**
 * Checks the data and options and resolves the parameters (objective and
 * num_class inferred from text labels) and the row split.
 * @throws InvalidInputError naming the field
 */
function planXgbTraining(data: XgbTrainData, options: XgbTrainOptions, split = true): XgbPlan {
  checkData(data);
  const preset = options.preset ? xgbPreset(options.preset) : undefined;
  const params = checkXgbParams({ ...(preset?.params ?? {}), ...(options.params ?? {}) });
  const classNames = data.classNames ?? [];
  if (!params.objective) {
    // Text labels: a classifier; otherwise XGBoost's default (regression).
    if (classNames.length > 2) params.objective = "multi:softprob";
    else if (classNames.length === 2) params.objective = "binary:logistic";
  }
  if (params.objective?.startsWith("multi:")) {
    const maxLabel = data.labels.reduce((a, b) => Math.max(a, b), 0);
    if (!params.num_class) params.num_class = String(Math.max(classNames.length, maxLabel + 1));
    const k = Number(params.num_class);
    data.labels.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 0 || l >= k) throw invalidArgument(`labels[${i}]`, `a class index in [0, ${k - 1}]`, l);
    });
  }
  params.nthread ??= "1";
  const numRounds = options.numRounds ?? preset?.numRounds ?? 10;
  if (!Number.isInteger(numRounds) || numRounds < 1 || numRounds > 100000) throw invalidArgument("num_rounds", "an integer in [1, 100000]", numRounds);
  const testF = fraction(options.testFraction, preset?.testFraction ?? 0.2, "test_fraction");
  const valF = fraction(options.validationFraction, preset?.validationFraction ?? 0, "validation_fraction");
  if (testF + valF > 0.9) throw invalidArgument("test_fraction + validation_fraction", "at most 0.9", testF + valF);
  const seed = options.seed ?? 0;
  if (!split) return { params, numRounds, testIdx: [], valIdx: [], trainIdx: [] };
  const [testIdx, valIdx, trainIdx] = seededSplit(data.rows, [testF, valF], seed);
  if (trainIdx.length === 0) throw invalidArgument("data", "enough rows to leave some for training", data.rows);
  return { params, numRounds, testIdx, valIdx, trainIdx };
}

/** Floats per data message to the training process (4 MiB): each is serialized on the event loop. */
const PART = 1 << 20;

/**
 * Trains a booster in a training process (the CRF trainings' processes: see
 * configureCrfTraining), one round at a time, evaluating on the train and
 * test sets after each round. Rows are split (seeded) into test, validation
 * and train sets. The event loop does none of the work, and cancellation
 * frees the CPU and memory at once, whatever the parameters: the process is
 * killed (a boosting round itself cannot be interrupted).
 *
 * @throws InvalidInputError for bad data or parameters (including those XGBoost rejects)
 * @throws CancelledError when `signal` aborts
 */
export async function trainXgboost(data: XgbTrainData, options: XgbTrainOptions = {}): Promise<XgbTrainResult> {
  planXgbTraining(data, options, false); // the caller's mistakes answered here, before a process is taken
  return runInTrainingProcess<XgbTrainResult>({
    nice: crfTrainingSettings().nice,
    signal: options.signal,
    message(msg, done) {
      const m = msg as unknown as XgbWorkerMessage;
      if (m.type === "xgbProgress") options.onProgress?.(m.progress);
      else if (m.type === "xgbDone")
        done(async () => ({ ...m.result, model: XgbModel.fromBuffer(Buffer.from(m.model.buffer, m.model.byteOffset, m.model.byteLength)) }));
    },
    async feed(send, settled) {
      const inFlight: Promise<void>[] = [];
      const parts: [string, Float32Array | undefined][] = [
        ["values", data.values],
        ["labels", data.labels],
        ["weights", data.weights],
      ];
      for (const [field, array] of parts) {
        for (let at = 0; array && at < array.length && !settled(); at += PART) {
          inFlight.push(send({ type: "xgbPart", field, part: array.subarray(at, at + PART) }));
          if (inFlight.length >= 2) await inFlight.shift();
        }
      }
      const { signal: _s, onProgress: _p, ...plain } = options;
      if (!settled()) {
        await send({
          type: "xgbTrain",
          rows: data.rows,
          cols: data.cols,
          featureNames: data.featureNames ?? [],
          classNames: data.classNames ?? [],
          options: plain,
        });
      }
    },
  });
}

/** Message from the training process about an XGBoost training. */
type XgbWorkerMessage =
  | { type: "xgbProgress"; progress: XgbProgress }
  | { type: "xgbDone"; model: Uint8Array; result: Omit<XgbTrainResult, "model"> }
  | { type: "error"; code: ErrorCode; message: string };

/**
 * trainXgboost on the calling thread: each round on a libuv thread, the
 * rest on this one. The training process runs it. @internal
 */
export async function trainXgboostHere(data: XgbTrainData, options: XgbTrainOptions = {}): Promise<XgbTrainResult> {
  const { params, numRounds, testIdx, valIdx, trainIdx } = planXgbTraining(data, options);
  const start = performance.now();
  const B = binding();
  const mats: NativeDMatrix[] = [];
  const matrix = (idx: number[]) => {
    const s = subset(data, idx);
    const m = callNative(() => new B.DMatrix(s.values, idx.length, data.cols, Number.NaN));
    mats.push(m);
    callNative(() => m.setLabels(s.labels));
    if (s.weights) callNative(() => m.setWeights(s.weights!));
    if (data.featureNames?.length) callNative(() => m.setFeatureNames(data.featureNames!));
    return m;
  };
  let booster: NativeBooster | undefined;
  try {
    const dtrain = matrix(trainIdx);
    const evals = [dtrain];
    const names = ["train"];
    if (testIdx.length) {
      evals.push(matrix(testIdx));
      names.push("test");
    }
    booster = callNative(() => new B.Booster(evals));
    for (const [k, v] of Object.entries(params)) callNative(() => booster!.setParam(k, v));
    let metrics: Record<string, number> = {};
    for (let i = 0; i < numRounds; i++) {
      if (options.signal?.aborted) throw new CancelledError("training cancelled");
      await awaitNative(booster.updateOneIter(i, dtrain));
      const rawLog = callNative(() => booster!.evalOneIter(i, evals, names));
      metrics = parseEvalLog(rawLog);
      // XGBoost prints full double precision; show six decimals like the book's log.
      const evalLog = [rawLog.split("\t")[0], ...Object.entries(metrics).map(([k, v]) => `${k}:${v.toFixed(6)}`)].join("\t");
      options.onProgress?.({ iteration: i + 1, evalLog, metrics, elapsedSeconds: (performance.now() - start) / 1000 });
    }
    if (options.signal?.aborted) throw new CancelledError("training cancelled");
    if (data.featureNames?.length) callNative(() => booster!.setFeatureNames(data.featureNames!));
    XgbModel.attachClassNames(booster, data.classNames ?? []);
    const model = new XgbModel(booster);
    booster = undefined; // owned by the model now
    // A model that predicts NaN or infinity (diverged: a huge eta, a loss that
    // overflowed) is refused rather than stored and served.
    const probeRows = Math.min(trainIdx.length, 256);
    const probe = model.predict(subset(data, trainIdx.slice(0, probeRows)).values, probeRows, data.cols, "margins");
    if (!probe.values.every(Number.isFinite)) {
      model.dispose();
      throw new InvalidInputError(
        "the trained model predicts non-finite values (it diverged: check eta/learning_rate, max_delta_step and the labels); nothing was stored",
      );
    }
    let validationAccuracy: number | undefined;
    if (valIdx.length && model.isClassifier) {
      const v = subset(data, valIdx);
      const pred = model.predict(v.values, valIdx.length, data.cols, "probabilities");
      let right = 0;
      for (let r = 0; r < valIdx.length; r++) {
        let k: number;
        if (pred.cols === 1) k = pred.values[r] > 0.5 ? 1 : 0;
        else {
          k = 0;
          for (let c = 1; c < pred.cols; c++) if (pred.values[r * pred.cols + c] > pred.values[r * pred.cols + k]) k = c;
        }
        if (k === v.labels[r]) right++;
      }
      validationAccuracy = right / valIdx.length;
    }
    return {
      model,
      params,
      rounds: numRounds,
      trainRows: trainIdx.length,
      testRows: testIdx.length,
      validationRows: valIdx.length,
      metrics,
      validationAccuracy,
      seconds: (performance.now() - start) / 1000,
    };
  } catch (err) {
    if (err instanceof MlBridgeError && err.code === "XGBOOST_ERROR") {
      throw new InvalidInputError(`XGBoost rejected the training: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    booster?.dispose();
    for (const m of mats) m.dispose();
  }
}
