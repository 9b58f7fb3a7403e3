/**
 * The one place that loads the native addon (`native/build/Release/mlbridge.node`)
 * and declares its typed interface. Everything else in the project imports the
 * addon's classes from here.
 *
 * Conventions of the addon (see native/src/*.h for the C++ side):
 * - Every failure is thrown (sync) or rejected (async) as an `Error` with a
 *   stable `code`: `XGBOOST_ERROR` (message = XGBGetLastError()),
 *   `CRFSUITE_ERROR` (message names the CRFsuite call and its return code),
 *   `INVALID_ARGUMENT` (last-resort argument checks in C++), `DISPOSED`
 *   (a handle used after dispose()), `BUSY` (dispose() refused while a worker
 *   uses the handle is NOT an error: dispose is deferred until the worker ends).
 * - Arguments are validated in TypeScript before crossing (see validate.ts);
 *   the C++ checks exist so that a wrong call can never crash the process.
 * - Handles (`DMatrix`, `Booster`, `CrfTagger`, `CrfTrainer`) are freed by
 *   `dispose()` or by their finalizer. A handle used by an in-flight async
 *   worker is never freed under it: the worker holds a reference count and the
 *   free happens when the last worker ends.
 */
import path from "node:path";

/** A CRFsuite attribute: its name and its weight (scaling value). */
export type NativeAttribute = [name: string, weight: number];
/** One item (token) of a sequence: its attributes. */
export type NativeItem = NativeAttribute[];

/** Output of XGBoost's in-place dense predict. */
export interface NativePrediction {
  /** Shape reported by XGBoost (e.g. [rows] or [rows, classes]). */
  shape: number[];
  /** Row-major values, copied out of XGBoost's buffer. */
  values: Float32Array;
}

/** Options of `Booster.predictDense*`. */
export interface NativePredictOptions {
  /** 0 = normal (classes for multi:softmax, probabilities for multi:softprob), 1 = margins. */
  type: 0 | 1;
  /** First tree layer (iteration) to use; 0 = from the start. */
  iterationBegin: number;
  /** One past the last iteration; 0 = all. */
  iterationEnd: number;
  /** Ask XGBoost for strict shapes ([rows, groups]). */
  strictShape: boolean;
  /** Value that marks a missing entry (NaN by default). */
  missing: number;
}

/** XGBoost DMatrix handle (a dense matrix copied into XGBoost). */
export interface NativeDMatrix {
  /** [sync] Sets the labels (length = rows). */
  setLabels(labels: Float32Array): void;
  /** [sync] Sets the instance weights (length = rows). */
  setWeights(weights: Float32Array): void;
  /** [sync] Sets feature names (length = cols). */
  setFeatureNames(names: string[]): void;
  /** [sync] Number of rows. */
  numRows(): number;
  /** [sync] Number of columns. */
  numCols(): number;
  /** [sync] Frees the matrix (deferred while a worker uses it). Idempotent. */
  dispose(): void;
}
export interface NativeDMatrixConstructor {
  /** [sync] Copies `data` (row-major, rows*cols floats) into a new DMatrix. */
  new (data: Float32Array, rows: number, cols: number, missing: number): NativeDMatrix;
}

/** XGBoost Booster handle. `nthread` is pinned at creation (see native/src/xgboost.cc). */
export interface NativeBooster {
  /** [sync] XGBoosterSetParam. */
  setParam(name: string, value: string): void;
  /** [async] One boosting iteration on `dtrain` (XGBoosterUpdateOneIter) off the event loop. */
  updateOneIter(iteration: number, dtrain: NativeDMatrix): Promise<void>;
  /** [sync] XGBoosterEvalOneIter: returns the eval log line, e.g. "[0]\ttrain-merror:0.04". */
  evalOneIter(iteration: number, dmats: NativeDMatrix[], names: string[]): string;
  /**
   * [sync] In-place predict on a dense matrix (fast path for small inputs). `data`: a Float32Array,
   * or a Uint8Array of float32 bytes in the machine's order at any byte offset (see data/float32.ts).
   */
  predictDense(data: Float32Array | Uint8Array, rows: number, cols: number, options: NativePredictOptions): NativePrediction;
  /** [async] Same as predictDense, off the event loop (large inputs). */
  predictDenseAsync(data: Float32Array | Uint8Array, rows: number, cols: number, options: NativePredictOptions): Promise<NativePrediction>;
  /** [sync] Saves to a file; the format follows the extension (.json or .ubj). */
  saveModel(file: string): void;
  /** [sync] Loads a model file (.json, .ubj or legacy binary). */
  loadModel(file: string): void;
  /** [sync] Serialises the model to a Buffer ("json" or "ubj"). */
  saveModelToBuffer(format: "json" | "ubj"): Buffer;
  /** [sync] Loads a model from a Buffer (JSON or UBJ, detected by XGBoost). */
  loadModelFromBuffer(data: Buffer): void;
  /** [sync] XGBoosterSaveJsonConfig. */
  saveConfig(): string;
  /** [sync] XGBoosterLoadJsonConfig. */
  loadConfig(json: string): void;
  /** [sync] Feature names stored in the booster ([] if none). */
  getFeatureNames(): string[];
  /** [sync] Sets feature names stored in the booster. */
  setFeatureNames(names: string[]): void;
  /** [sync] Number of features the booster expects. */
  numFeatures(): number;
  /** [sync] Number of boosted rounds (XGBoosterBoostedRounds). */
  boostedRounds(): number;
  /** [sync] Reads a string attribute (null if absent). */
  getAttr(name: string): string | null;
  /** [sync] Sets a string attribute (null deletes it). */
  setAttr(name: string, value: string | null): void;
  /** [sync] Frees the booster (deferred while a worker uses it). Idempotent. */
  dispose(): void;
}
export interface NativeBoosterConstructor {
  /** [sync] A booster cached on `dmats` (the training matrix first); [] for a booster to load into. */
  new (dmats: NativeDMatrix[]): NativeBooster;
}

/** What `new Forest(spec)` reads: an XGBoost gbtree model's trees as flat arrays. */
export interface NativeForestSpec {
  numFeature: number;
  /** Output groups (classes of a multi-class model, else 1). */
  numGroup: number;
  /** Initial margin of each output group, numGroup values (the model's base_score, one per output in XGBoost 3.1+, in margin space). */
  baseMargin: Float32Array;
  /** 0 identity, 1 sigmoid, 2 softmax, 3 argmax, 4 exp (see native/src/forest.h). */
  transform: number;
  /** Per tree, the index of its first node; numTrees + 1 entries. */
  treeStart: Int32Array;
  /** Per tree, its output group. */
  treeGroup: Int32Array;
  /** Per node: children (indices within the tree, -1 for leaves), split feature, condition or leaf value, default direction. */
  left: Int32Array;
  right: Int32Array;
  split: Int32Array;
  cond: Float32Array;
  defaultLeft: Uint8Array;
}

/** Compiled trees of a gbtree model (native/src/forest.h): prediction without XGBoost's C API. */
export interface NativeForest {
  /** [sync] rows × outputs values; null when the input holds an infinity. */
  predict(data: Float32Array | Uint8Array, rows: number, cols: number, margin: boolean): Float32Array | null;
  /** [async] Same on the libuv pool, rows split over `threads` threads. */
  predictAsync(data: Float32Array | Uint8Array, rows: number, cols: number, margin: boolean, threads: number): Promise<Float32Array | null>;
  /** [sync] Frees the nodes (deferred while a worker uses them). Idempotent. */
  dispose(): void;
}
export interface NativeForestConstructor {
  /** [sync] Validates and copies the trees. Throws INVALID_ARGUMENT. */
  new (spec: NativeForestSpec): NativeForest;
}

/** One line of CRFsuite's training log, forwarded as it is written. */
export type NativeLogCallback = (line: string) => void;

/** Result of CrfTrainer.train. */
export interface NativeTrainResult {
  /** CRFsuite's return code (0 = success). */
  status: number;
}

/** CRFsuite trainer (crf1d graphical model) with one algorithm. */
export interface NativeCrfTrainer {
  /** [sync] Names of the algorithm's parameters. */
  params(): string[];
  /** [sync] Sets a parameter (throws CRFSUITE_ERROR for unknown names / bad values). */
  set(name: string, value: string): void;
  /** [sync] Reads a parameter's value as a string. */
  get(name: string): string;
  /** [sync] Help text of a parameter: "type: description". */
  help(name: string): string;
  /**
   * [sync] Appends every sequence of `packed`; `labels` holds one label per
   * item, each followed by a NUL byte. Checked first: nothing is appended on
   * INVALID_ARGUMENT.
   */
  appendPacked(packed: PackedSequences, labels: Uint8Array, group: number): void;
  /**
   * [async] Trains off the event loop and writes the model to `modelFile`.
   * `holdout` is the group to evaluate on each iteration (-1 = none).
   * `onLog` receives every log line (in order, on the main thread).
   * CRFsuite offers no abort hook: callers that must stop a training run the
   * trainer in a child process and kill it (core does).
   */
  train(modelFile: string, holdout: number, onLog: NativeLogCallback): Promise<NativeTrainResult>;
  /** [sync] Frees the trainer (deferred while training). Idempotent. */
  dispose(): void;
}
export interface NativeCrfTrainerConstructor {
  /** [sync] algorithm: "lbfgs" | "l2sgd" | "ap" | "pa" | "arow". */
  new (algorithm: string): NativeCrfTrainer;
}

/**
 * Sequences of items of attributes in four flat arrays: the form the addon
 * tags and trains on without a call per attribute (`packSequences` builds it
 * from nested arrays; the gRPC API's `CrfPackedSequences` carries it as is).
 */
export interface PackedSequences {
  /** Every attribute's name in order (sequence, item, attribute), UTF-8, each followed by a NUL byte; names are non-empty. */
  attributeNames: Uint8Array;
  /** One weight per attribute (finite), or absent/empty for all 1.0. */
  attributeWeights?: Float64Array | null;
  /** The number of attributes of each item (items of all sequences, in order). */
  itemAttributeCounts: Uint32Array;
  /** The number of items of each sequence. */
  sequenceLengths: Uint32Array;
}

/** Result of tagging packed sequences: flat, one entry per item. */
export interface NativePackedTagResult {
  /** Label index (into `labels()`) of each item, sequences one after another. */
  paths: Int32Array;
  /** Probability of each sequence's Viterbi path. Only when asked. */
  probabilities?: Float64Array;
  /** items × labels marginals, row-major. Only when asked. */
  marginals?: Float64Array;
}

/** Result of tagging one sequence. */
export interface NativeTagResult {
  /** One label per item (Viterbi path). */
  labels: string[];
  /** Probability of the Viterbi path, exp(score - lognorm). Only when asked. */
  probability?: number;
  /** items x labels marginals, row-major, label order = tagger.labels(). Only when asked. */
  marginals?: Float64Array;
}

/** CRFsuite tagger over one model. Not shared between threads: the addon serialises access. */
export interface NativeCrfTagger {
  /** [sync] Labels of the model, in model order. */
  labels(): string[];
  /** [sync] Attributes of the model, in model order. */
  attributes(): string[];
  /** [sync] Tags one sequence. */
  tag(items: NativeItem[], probability: boolean, marginals: boolean): NativeTagResult;
  /** [sync] Tags packed sequences (throws INVALID_ARGUMENT naming the field and position). */
  tagPacked(packed: PackedSequences, probability: boolean, marginals: boolean): NativePackedTagResult;
  /** [async] Same off the event loop (the input is checked and copied before the promise is returned). */
  tagPackedAsync(packed: PackedSequences, probability: boolean, marginals: boolean): Promise<NativePackedTagResult>;
  /** [sync] Probability of a given label path for the sequence. */
  probability(items: NativeItem[], labels: string[]): number;
  /** [sync] Frees the tagger (deferred while a worker uses it). Idempotent. */
  dispose(): void;
}
export interface NativeCrfTaggerConstructor {
  /** [sync] Opens a model file. */
  fromFile(file: string): NativeCrfTagger;
  /** [sync] Opens a model held in memory (the addon keeps its own copy). */
  fromBuffer(data: Buffer): NativeCrfTagger;
}

/** The addon's exports. */
export interface NativeBinding {
  /** Library versions: XGBoost "3.2.0", CRFsuite "0.12.2". */
  versions(): { xgboost: string; crfsuite: string };
  /** [sync] glibc malloc_trim(0): returns the C heap's free pages to the system; true if any were released. */
  trimNativeHeap(): boolean;
  /** [sync] Opens `path` (created 0600) and takes an exclusive flock without waiting; returns the descriptor. Throws code LOCKED or LOCK_FAILED. */
  lockFile(path: string): number;
  /** [sync] Closes a descriptor from lockFile, releasing its lock. */
  unlockFile(fd: number): void;
  DMatrix: NativeDMatrixConstructor;
  Booster: NativeBoosterConstructor;
  CrfTrainer: NativeCrfTrainerConstructor;
  CrfTagger: NativeCrfTaggerConstructor;
  Forest: NativeForestConstructor;
}

/** Where the addon is looked up; MLBRIDGE_NATIVE overrides (e.g. a sanitizer build). */
export const bindingPath = process.env.MLBRIDGE_NATIVE ?? path.resolve(__dirname, "../../../native/build/Release/mlbridge.node");

let loaded: NativeBinding | undefined;

/** Loads the addon once. Throws a clear error naming the build command when it is missing. */
export function binding(): NativeBinding {
  if (loaded) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(bindingPath) as NativeBinding;
  } catch (err) {
    const e = new Error(
      `cannot load the mlbridge native addon at ${bindingPath}: ${(err as Error).message}. ` +
        "Build it with `npx nx run native:build` (needs the pinned XGBoost: run `npm run setup`).",
    );
    (e as Error & { code: string }).code = "NATIVE_NOT_BUILT";
    throw e;
  }
  return loaded;
}
