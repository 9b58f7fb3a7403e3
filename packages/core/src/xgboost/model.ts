import { fork } from "node:child_process";
import path from "node:path";
import os from "node:os";
import { binding, type NativeBooster, type NativeForest, type NativePredictOptions } from "../binding";
import { MlBridgeError, InvalidInputError, awaitNative, callNative, invalidArgument } from "../errors";
import { float32Count, nativeFloat32, type Float32Values } from "../data/float32";
import { compileForest, type CompiledForest } from "./forest";
import { checkModelStructure, decodeModel, scalarBaseScore } from "./format";
import { GBLINEAR_UNSERVABLE } from "./params";

/** What predict returns: the objective's output, class probabilities, or margins. */
export type PredictOutput = "default" | "probabilities" | "margins";

/** Options of XgbModel.predict / predictAsync. */
export interface XgbPredictOptions {
  /** Name each row's class (classifiers with class names); default true. False saves a string per row. */
  classNames?: boolean;
  /** predictAsync on compiled trees: threads to split a large input over; default every core. */
  threads?: number;
}

/** Predictions for `rows` rows, `cols` values each (row-major). */
export interface XgbPrediction {
  rows: number;
  cols: number;
  values: Float32Array;
  /** For classifiers with class names: the predicted class of each row. */
  classNames?: string[];
}

/** XGBoost version bound by the addon. */
export function xgboostVersion(): string {
  return binding().versions().xgboost;
}

const CLASS_NAMES_ATTR = "mlbridge_class_names";
/**
 * Whether a model saved by XGBoost `declared` is newer than the bound XGBoost
 * `linked` can be trusted to read. XGBoost reads the models of every earlier
 * version (its compatibility promise goes backwards only), and a newer format
 * may load without an error and still be misread: XGBoost 1.7 loaded 3.1's
 * vector base_score and silently dropped the intercept. So a model from a newer
 * major.minor is refused before it is loaded; a newer patch release of the same
 * minor is read (patch releases do not change the model format).
 */
function newerThanReadable(declared: number[], linked: number[]): boolean {
  return compareVersions([declared[0], declared[1], 0], [linked[0], linked[1], 0]) > 0;
}
/** Inputs with more values than this are predicted off the event loop. */
const ASYNC_VALUES = 64 * 1024;
/** Threads of a large prediction on compiled trees. */
const PREDICT_THREADS = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The `version` a decoded XGBoost model declares ([major, minor, patch]), if any. */
function declaredVersion(doc: Record<string, unknown>): number[] | undefined {
  const v = doc.version;
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x)) ? (v as number[]) : undefined;
}

/**
 * An XGBoost booster held in memory with what mlbridge knows about it
 * (objective, classes, feature names). Predictions on one booster are
 * serialised by the addon; one XgbModel serves concurrent requests.
 */
export class XgbModel {
  readonly objective: string;
  readonly numClass: number;
  readonly numFeatures: number;
  readonly featureNames: string[];
  /**
   * Why predictions go through XGBoost's C API rather than the compiled trees
   * (undefined when they use the compiled trees; see forest.ts).
   */
  readonly fastPathUnavailable?: string;
  private names: string[];
  private readonly forest?: NativeForest;

  /** Wraps a booster; takes ownership. */
  constructor(private readonly booster: NativeBooster) {
    const config = JSON.parse(callNative(() => booster.saveConfig())) as {
      learner?: { objective?: { name?: string }; learner_model_param?: { num_class?: string } };
    };
    this.objective = config.learner?.objective?.name ?? "";
    this.numClass = Number(config.learner?.learner_model_param?.num_class ?? 0);
    this.numFeatures = callNative(() => booster.numFeatures());
    this.featureNames = callNative(() => booster.getFeatureNames());
    const names = callNative(() => booster.getAttr(CLASS_NAMES_ATTR));
    this.names = names ? (JSON.parse(names) as string[]) : [];
    // MLBRIDGE_XGBOOST_COMPILED=0: every prediction through XGBoost (diagnostics; read per model).
    const compiled: CompiledForest =
      process.env.MLBRIDGE_XGBOOST_COMPILED === "0" ? { reason: "disabled by MLBRIDGE_XGBOOST_COMPILED=0" } : compileForest(booster, this.objective);
    this.forest = compiled.forest;
    this.fastPathUnavailable = compiled.reason;
  }

  /**
   * Loads a model from XGBoost JSON or UBJ bytes.
   * @throws InvalidInputError for bytes that are not a model
   * @throws MlBridgeError FAILED_PRECONDITION when the model is newer than the bound XGBoost can read
   */
  static fromBuffer(bytes: Buffer): XgbModel {
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) throw invalidArgument("bytes", "a non-empty Buffer", bytes);
    const mine = xgboostVersion();
    // XGBoost's legacy binary loader, given arbitrary bytes, can try huge allocations,
    // and its UBJ reader trusts the lengths it reads: decode and check the structure first.
    let decoded: { doc: Record<string, unknown>; ubj: boolean };
    try {
      decoded = decodeModel(bytes);
    } catch (err) {
      throw new InvalidInputError(`not an XGBoost model this server can read (XGBoost ${mine}): ${(err as Error).message}`);
    }
    const declared = declaredVersion(decoded.doc);
    const linked = mine.split(".").map(Number);
    if (declared && newerThanReadable(declared, linked)) {
      throw new MlBridgeError(
        "FAILED_PRECONDITION",
        `the model was saved by XGBoost ${declared.join(".")}, which is newer than the server's XGBoost ${mine}: ` +
          `a newer model format may be misread, so it is not loaded; save the model with XGBoost <= ${linked[0]}.${linked[1]}, ` +
          "or retrain it through mlbridge",
      );
    }
    let boosterName: unknown;
    try {
      checkModelStructure(decoded.doc, decoded.ubj);
      boosterName = (decoded.doc.learner as Record<string, Record<string, unknown>> | undefined)?.gradient_booster?.name;
    } catch (err) {
      throw new InvalidInputError(`not an XGBoost model this server can read (XGBoost ${mine}): ${(err as Error).message}`);
    }
    if (boosterName === "gblinear") throw new MlBridgeError("FAILED_PRECONDITION", GBLINEAR_UNSERVABLE);
    const booster = callNative(() => new (binding().Booster)([]));
    try {
      callNative(() => booster.loadModelFromBuffer(bytes));
      return new XgbModel(booster);
    } catch (err) {
      booster.dispose();
      const reason = (err as Error).message;
      if (declared && compareVersions(declared, linked) > 0) {
        throw new MlBridgeError(
          "FAILED_PRECONDITION",
          `the model was saved by XGBoost ${declared.join(".")}, which the server's XGBoost ${mine} cannot read: ${reason}`,
        );
      }
      throw new InvalidInputError(`not an XGBoost model this server can read (XGBoost ${mine}): ${reason}`);
    }
  }

  /**
   * Loads model bytes from an untrusted source (an upload): they are first
   * loaded in a throwaway process, and this process then loads XGBoost's own
   * re-serialisation of them. A forged model that would crash XGBoost crashes
   * only that process and is rejected.
   * @throws InvalidInputError, or MlBridgeError FAILED_PRECONDITION as fromBuffer
   */
  static async fromUntrustedBuffer(bytes: Buffer): Promise<XgbModel> {
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) throw invalidArgument("bytes", "a non-empty Buffer", bytes);
    // The one defence runs in the throwaway process: the structural checks, XGBoost's
    // loader and a probe prediction. This process then loads XGBoost's own
    // re-serialisation the way it loads a stored model.
    const reply = await new Promise<{ ok: boolean; bytes?: Uint8Array; code?: string; message?: string }>((resolve) => {
      const child = fork(path.resolve(__dirname, "..", "..", "dist", "xgboost", "sanitize-worker.js"), [], {
        serialization: "advanced",
        stdio: ["ignore", "ignore", "ignore", "ipc"],
      });
      let answer: { ok: boolean; bytes?: Uint8Array; code?: string; message?: string } | undefined;
      child.once("message", (m: typeof answer) => (answer = m));
      child.once("exit", (code, signal) =>
        resolve(answer ?? { ok: false, code: "INVALID_ARGUMENT", message: `the model crashed XGBoost's loader (${signal ?? `exit ${code}`})` }),
      );
      child.send(bytes);
    });
    if (!reply.ok) {
      if (reply.code === "FAILED_PRECONDITION") throw new MlBridgeError("FAILED_PRECONDITION", reply.message!);
      throw new InvalidInputError(
        reply.message!.startsWith("not an XGBoost model")
          ? reply.message!
          : `not an XGBoost model this server can read (XGBoost ${xgboostVersion()}): ${reply.message}`,
      );
    }
    const canonical = reply.bytes!;
    return XgbModel.fromBuffer(Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength));
  }

  /** Sets class names (stored inside the model as an attribute). */
  static attachClassNames(booster: NativeBooster, classNames: string[]): void {
    callNative(() => booster.setAttr(CLASS_NAMES_ATTR, classNames.length ? JSON.stringify(classNames) : null));
  }

  /** Class names by class index ([] when unknown). */
  get classNames(): string[] {
    return this.names;
  }

  /** Sets the class names (stored inside the model, so exports keep them). */
  setClassNames(classNames: string[]): void {
    if (!Array.isArray(classNames) || classNames.some((c) => typeof c !== "string" || c === "")) {
      throw invalidArgument("class_names", "a list of non-empty names", classNames);
    }
    if (this.numClass > 1 && classNames.length && classNames.length !== this.numClass) {
      throw new InvalidInputError(`class_names: the model has ${this.numClass} classes, got ${classNames.length} names`);
    }
    XgbModel.attachClassNames(this.booster, classNames);
    this.names = [...classNames];
  }

  /** Whether predictions are classes. */
  get isClassifier(): boolean {
    return this.objective.startsWith("multi:") || this.objective.startsWith("binary:");
  }

  /**
   * Serialises the model (class names included), in the form the most XGBoost
   * versions read identically: a base_score whose intercepts are all equal is
   * written as the scalar that XGBoost <= 3.0 reads (see scalarBaseScore).
   */
  toBuffer(format: "ubj" | "json" = "ubj"): Buffer {
    return scalarBaseScore(
      callNative(() => this.booster.saveModelToBuffer(format)),
      format === "ubj",
    );
  }

  /** Boosted rounds. */
  rounds(): number {
    return callNative(() => this.booster.boostedRounds());
  }

  private check(values: Float32Values, rows: number, cols: number): void {
    if (!(values instanceof Float32Array) && !(values instanceof Uint8Array && values.byteLength % 4 === 0)) {
      throw invalidArgument("values", "a Float32Array or little-endian float32 bytes (a Uint8Array, 4 bytes per value)", values);
    }
    if (!Number.isInteger(rows) || rows <= 0) throw invalidArgument("rows", "a positive integer", rows);
    if (!Number.isInteger(cols) || cols <= 0) throw invalidArgument("cols", "a positive integer", cols);
    if (float32Count(values) !== rows * cols) throw invalidArgument("values", `${rows}×${cols} = ${rows * cols} values`, values);
    if (this.numFeatures && cols !== this.numFeatures) {
      throw new InvalidInputError(`cols: the model expects ${this.numFeatures} features per row, got ${cols}`);
    }
  }

  private finish(output: PredictOutput, rows: number, raw: Float32Array, opts: XgbPredictOptions): XgbPrediction {
    let values = raw;
    const cols = rows ? values.length / rows : 0;
    if (output === "probabilities" && this.objective === "multi:softmax") values = softmaxRows(values, rows, cols);
    const pred: XgbPrediction = { rows, cols, values };
    if (opts.classNames !== false && this.isClassifier && this.classNames.length && output !== "margins")
      pred.classNames = this.decode(values, rows, cols, output);
    return pred;
  }

  private decode(values: Float32Array, rows: number, cols: number, output: PredictOutput): string[] {
    const names = this.classNames;
    const out = new Array<string>(rows);
    if (cols === 1) {
      const indices = this.objective === "multi:softmax" && output === "default";
      for (let r = 0; r < rows; r++) {
        const k = indices ? Math.round(values[r]) : values[r] > 0.5 ? 1 : 0;
        out[r] = names[k] ?? String(k);
      }
      return out;
    }
    for (let r = 0, at = 0; r < rows; r++, at += cols) {
      let k = 0;
      for (let c = 1; c < cols; c++) if (values[at + c] > values[at + k]) k = c;
      out[r] = names[k] ?? String(k);
    }
    return out;
  }

  private options(output: PredictOutput): NativePredictOptions {
    const margins = output === "margins" || (output === "probabilities" && this.objective === "multi:softmax");
    return { type: margins ? 1 : 0, iterationBegin: 0, iterationEnd: 0, strictShape: false, missing: Number.NaN };
  }

  /**
   * Predicts on the calling thread (fast path for a few rows). `input`: rows × cols
   * values, row-major, as a Float32Array or as little-endian float32 bytes (Float32Values:
   * a Uint8Array is always read as such bytes, never as one value per byte).
   */
  predict(input: Float32Values, rows: number, cols: number, output: PredictOutput = "default", opts: XgbPredictOptions = {}): XgbPrediction {
    this.check(input, rows, cols);
    return this.predictChecked(input, rows, cols, output, opts);
  }

  private predictChecked(input: Float32Values, rows: number, cols: number, output: PredictOutput, opts: XgbPredictOptions): XgbPrediction {
    const values = nativeFloat32(input);
    const options = this.options(output);
    if (this.forest) {
      const fast = callNative(() => this.forest!.predict(values, rows, cols, options.type === 1));
      if (fast) return this.finish(output, rows, fast, opts);
    }
    const raw = callNative(() => this.booster.predictDense(values, rows, cols, options));
    return this.finish(output, rows, raw.values, opts);
  }

  /**
   * Predicts; inputs larger than 64 Ki values run off the event loop (on
   * compiled trees, split over `threads` threads: default every core).
   */
  async predictAsync(
    input: Float32Values,
    rows: number,
    cols: number,
    output: PredictOutput = "default",
    opts: XgbPredictOptions = {},
  ): Promise<XgbPrediction> {
    this.check(input, rows, cols);
    if (rows * cols <= ASYNC_VALUES) return this.predictChecked(input, rows, cols, output, opts);
    const values = nativeFloat32(input);
    const threads = opts.threads ?? PREDICT_THREADS;
    const options = this.options(output);
    if (this.forest) {
      const fast = await awaitNative(this.forest.predictAsync(values, rows, cols, options.type === 1, Math.max(1, Math.min(64, Math.floor(threads)))));
      if (fast) return this.finish(output, rows, fast, opts);
    }
    const raw = await awaitNative(this.booster.predictDenseAsync(values, rows, cols, options));
    return this.finish(output, rows, raw.values, opts);
  }

  /** Frees the booster (deferred while a prediction runs). Idempotent. */
  dispose(): void {
    this.forest?.dispose();
    this.booster.dispose();
  }
}

function softmaxRows(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, values[r * cols + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += out[r * cols + c] = Math.exp(values[r * cols + c] - max);
    for (let c = 0; c < cols; c++) out[r * cols + c] /= sum;
  }
  return out;
}
