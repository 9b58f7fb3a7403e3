import { fork } from "node:child_process";
import path from "node:path";
import { binding, type NativeCrfTrainer } from "../binding";
import { CancelledError, InvalidInputError, MlBridgeError, callNative, invalidArgument, type ErrorCode } from "../errors";
import type { CrfSequence } from "./data";
import { CRF_ALGORITHMS, type CrfAlgorithm } from "./features";

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
}

/** Result of trainCrf. */
export interface CrfTrainResult {
  /** The CRFsuite model file's bytes. */
  model: Buffer;
  /** Iterations run. */
  iterations: number;
  /** Wall-clock seconds of the training (process start to model bytes). */
  seconds: number;
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

/** Lists an algorithm's parameters with their types, defaults and help. */
export function crfParams(algorithm: CrfAlgorithm): CrfParamInfo[] {
  checkAlgorithm(algorithm);
  return withTrainer(algorithm, (t) =>
    t.params().map((name) => {
      const h = t.help(name);
      const m = /^(\w+):\s*(.*)$/s.exec(h);
      return { name, type: m ? m[1] : "string", default: t.get(name), help: m ? m[2] : h };
    }),
  );
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
    out[name] = value;
  }
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
    s.labels.forEach((l, j) => {
      if (typeof l !== "string" || l === "") throw invalidArgument(`${name}[${i}].labels[${j}]`, "a non-empty label", l);
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

/** Path of the training process's script (compiled; run from dist even under vitest). */
const workerScript = path.resolve(__dirname, "..", "..", "dist", "crf", "train-worker.js");

/** Message from the training process. */
type WorkerMessage =
  | { type: "log"; line: string }
  | { type: "done"; model: Uint8Array }
  | { type: "error"; code: ErrorCode; message: string };

/**
 * Trains a CRFsuite crf1d model in a separate process, so that the event loop
 * never waits for it, a crash inside the library cannot take the caller down,
 * and cancellation (which CRFsuite itself does not offer) frees everything at
 * once: the process is killed.
 *
 * @throws InvalidInputError for bad sequences, algorithm or parameters
 * @throws CancelledError when `signal` aborts
 * @throws MlBridgeError CRFSUITE_ERROR / INTERNAL when the library or process fails
 */
export async function trainCrf(sequences: CrfSequence[], options: CrfTrainOptions): Promise<CrfTrainResult> {
  checkAlgorithm(options.algorithm);
  checkTrainingSequences(sequences);
  const params = checkCrfParams(options.algorithm, options.params ?? {});
  if (options.signal?.aborted) throw new CancelledError("training cancelled");
  const start = performance.now();
  const parser = new CrfLogParser(start, (p) => options.onProgress?.(p));

  return new Promise<CrfTrainResult>((resolve, reject) => {
    const child = fork(workerScript, [], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, MLBRIDGE_TRAIN_WORKER: "1" },
    });
    let settled = false;
    const finish = (err: Error | null, result?: CrfTrainResult) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener("abort", onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (err) reject(err);
      else resolve(result!);
    };
    const onAbort = () => finish(new CancelledError("training cancelled"));
    options.signal?.addEventListener("abort", onAbort, { once: true });

    child.on("message", (msg: WorkerMessage) => {
      if (msg.type === "log") {
        options.onLog?.(msg.line);
        parser.push(msg.line);
      } else if (msg.type === "done") {
        const model = Buffer.from(msg.model.buffer, msg.model.byteOffset, msg.model.byteLength);
        finish(null, { model, iterations: parser.iterations, seconds: (performance.now() - start) / 1000 });
      } else if (msg.type === "error") {
        finish(new MlBridgeError(msg.code, msg.message));
      }
    });
    child.on("error", (err) => finish(new MlBridgeError("INTERNAL", `training process failed: ${err.message}`)));
    child.on("exit", (code, signal) => {
      finish(new MlBridgeError("INTERNAL", `training process exited unexpectedly (${signal ?? `code ${code}`})`));
    });
    child.send({ type: "train", algorithm: options.algorithm, params, sequences });
  });
}
