/**
 * The CRF training processes behind trainCrf (train.ts): how they are started,
 * at which CPU priority, and the one spare process kept started ahead so that
 * a training does not wait for Node to boot and load the addon.
 *
 * A training process is used for one training only and then exits, so that
 * each training starts from a fresh address space and cancellation stays a
 * plain SIGKILL.
 */
import { fork, type ChildProcess } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { CancelledError, InvalidInputError, MlBridgeError, invalidArgument, type ErrorCode } from "../errors";

/** Settings of the CRF training processes (see configureCrfTraining). */
export interface CrfTrainingSettings {
  /**
   * Added to this process's nice value for the training processes, like
   * `nice -n`: an integer 0–19 (the result is capped at 19); 0 runs them at
   * this process's priority. Default 19, the batch-job value: when trainings
   * and serving compete for the cores, a training gets ~1/70 of the CPU share
   * of a busy nice-0 thread and the server is woken first, so request latency
   * hardly depends on trainings; on cores the server leaves idle a niced
   * training runs exactly as fast (same iterations per second measured at 0,
   * 10 and 19). Measured p99 of Predict / Health at 200 req/s while two
   * ner_large trainings ran on 2 cores (idle: 1.2-2.6 ms): nice 0 4.4-5.9 ms,
   * 10 2.3-4.3 ms, 19 2.5-3.2 ms. The price: on cores saturated by requests,
   * trainings nearly stop (10 gives them ~1/10 instead). Raising priority back
   * needs privileges, so a process keeps the value it was started with.
   */
  nice: number;
  /**
   * Keep one training process started ahead (unref'd: it never keeps this
   * process alive, and it exits with it), replaced when the training that
   * took it ends. Saves Node's start and the addon's load (~70 ms) per
   * training, at the cost of one idle Node process (~50 MB resident,
   * measured). Default true.
   */
  warmProcess: boolean;
  /**
   * Threads an L-BFGS training computes its objective and gradient on (the
   * training's `threads` parameter, when it sets none): 1–64. Default: the
   * cores available to this process (os.availableParallelism()), or
   * MLBRIDGE_TRAIN_THREADS. The threads run in the training process, at its
   * nice value, so serving keeps its priority over them as over one thread.
   * With 1, the model is byte-identical to CRFsuite's single-threaded one;
   * with more, the objective's sums are added in another order (the loss
   * agrees to ~1e-12 relative), deterministic for a given count.
   */
  threads: number;
}

/** The largest thread count of a training (CRFsuite's encoder uses at most this many). */
export const MAX_TRAIN_THREADS = 64;

/** Checks a thread count: an integer 1–64. */
export function checkThreads(value: unknown, name = "threads"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_TRAIN_THREADS) {
    throw invalidArgument(name, `an integer in [1, ${MAX_TRAIN_THREADS}]`, value);
  }
  return value;
}

/** The default thread count: MLBRIDGE_TRAIN_THREADS when set, else the cores available (capped at 64). */
function defaultThreads(): number {
  const raw = process.env.MLBRIDGE_TRAIN_THREADS?.trim();
  if (raw) return checkThreads(/^\d+$/.test(raw) ? Number(raw) : raw, "MLBRIDGE_TRAIN_THREADS");
  const cores = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_TRAIN_THREADS, cores));
}

/** The default nice increment: MLBRIDGE_TRAIN_NICE when set (0–19), else 19. */
function defaultNice(): number {
  const raw = process.env.MLBRIDGE_TRAIN_NICE?.trim();
  if (!raw) return 19;
  return checkNice(/^\d+$/.test(raw) ? Number(raw) : raw, "MLBRIDGE_TRAIN_NICE");
}

/** The settings, read on first use (so that a bad MLBRIDGE_TRAIN_NICE fails the training, not the import). */
let current: CrfTrainingSettings | undefined;
function settingsNow(): CrfTrainingSettings {
  current ??= { nice: defaultNice(), warmProcess: true, threads: defaultThreads() };
  return current;
}

/** Path of the training process's script (compiled; run from dist even under vitest). */
const workerScript = path.resolve(__dirname, "..", "..", "dist", "crf", "train-worker.js");

/** Checks a nice increment: an integer 0–19. */
export function checkNice(value: unknown, name = "nice"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 19) {
    throw invalidArgument(name, "an integer in [0, 19]", value);
  }
  return value;
}

/**
 * Changes the settings of CRF training processes started from now on; returns
 * the settings in force. Turning `warmProcess` off or changing `nice` ends the
 * spare process (it was started with the old settings); trainings already
 * running keep theirs.
 */
export function configureCrfTraining(update: Partial<CrfTrainingSettings> = {}): CrfTrainingSettings {
  const settings = settingsNow();
  const next = { ...settings };
  if (update.nice !== undefined) next.nice = checkNice(update.nice);
  if (update.threads !== undefined) next.threads = checkThreads(update.threads);
  if (update.warmProcess !== undefined) {
    if (typeof update.warmProcess !== "boolean") throw invalidArgument("warmProcess", "a boolean", update.warmProcess);
    next.warmProcess = update.warmProcess;
  }
  if (!next.warmProcess || next.nice !== settings.nice) disposeCrfTraining();
  Object.assign(settings, next);
  return { ...settings };
}

/** The settings in force. */
export function crfTrainingSettings(): CrfTrainingSettings {
  return { ...settingsNow() };
}

/** Nice value of the calling thread; 0 where it cannot be read. */
function ownNice(): number {
  try {
    return os.getPriority();
  } catch {
    return 0;
  }
}

/** One training process. */
export class TrainingProcess {
  readonly child: ChildProcess;
  /** The nice increment it was started with. */
  readonly nice: number;
  /** Set once the process has exited or failed to start. */
  gone = false;
  /** The spawn error, if it failed to start. */
  error: Error | undefined;

  constructor(nice: number) {
    this.nice = nice;
    const target = Math.min(19, ownNice() + nice);
    this.child = fork(workerScript, [String(target)], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, MLBRIDGE_TRAIN_WORKER: "1" },
    });
    // The worker lowers the priority of all its threads itself as its first
    // statement; doing it here too covers its main thread from the start.
    if (nice > 0 && this.child.pid !== undefined) {
      try {
        os.setPriority(this.child.pid, target);
      } catch {
        // the process may already be gone; the worker applies it anyway
      }
    }
    active.add(this);
    this.child.on("error", (err) => {
      this.error ??= err;
      this.gone = true;
      active.delete(this);
    });
    this.child.on("exit", () => {
      this.gone = true;
      active.delete(this);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Lets this process's handles no longer keep the event loop alive (idle spare). */
  unref(): void {
    this.child.unref();
    this.child.channel?.unref();
  }

  /** Makes it keep the event loop alive again (a training is using it). */
  ref(): void {
    this.child.ref();
    this.child.channel?.ref();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Every training process not yet exited, the spare included. */
const active = new Set<TrainingProcess>();
let spare: TrainingProcess | undefined;
let exitHook = false;

function killAll(): void {
  for (const p of active) p.kill();
}

/**
 * Starts the spare training process now if there is none (and `warmProcess`
 * is on), so that even the first training finds one ready. A server calls it
 * once at start; trainCrf replaces the spare by itself after taking it.
 */
export function prewarmCrfTraining(): void {
  const settings = settingsNow();
  if (!settings.warmProcess || (spare && !spare.gone)) return;
  if (!exitHook) {
    exitHook = true;
    // The processes also exit by themselves when this process's IPC channel
    // closes; this only makes it immediate on a normal exit.
    process.once("exit", killAll);
  }
  const p = new TrainingProcess(settings.nice);
  p.unref();
  p.child.once("exit", () => {
    if (spare === p) spare = undefined;
  });
  spare = p;
}

/** Ends the spare training process, if any; running trainings are not affected. */
export function disposeCrfTraining(): void {
  const p = spare;
  spare = undefined;
  p?.kill();
}

/** Process ids of the CRF training processes: the spare, and those training. */
export function crfTrainingProcesses(): { spare?: number; training: number[] } {
  const training: number[] = [];
  for (const p of active) if (p !== spare && p.pid !== undefined) training.push(p.pid);
  return { spare: spare && !spare.gone ? spare.pid : undefined, training };
}

/**
 * A process for one training: the spare when there is one started with the
 * same nice increment, else a new one.
 */
export function takeTrainingProcess(nice: number): TrainingProcess {
  const p = spare;
  if (p && !p.gone && p.nice === nice) {
    spare = undefined;
    p.ref();
    return p;
  }
  return new TrainingProcess(nice);
}

/** A message of the training process: the kind's own, or an error. */
export type ProcessMessage = { type: string } & Record<string, unknown>;

/** What one kind's training gives runInTrainingProcess. */
export interface ProcessRun<T> {
  /** The process's nice increment. */
  nice: number;
  /** Aborts the run (CancelledError): the process is killed. */
  signal?: AbortSignal;
  /**
   * A message of the process other than "error" (which the runner turns into
   * the error it names); `done(produce)` ends the run with what `produce` makes.
   * Messages after the run ended are dropped. `pid` is the process's.
   */
  message(msg: ProcessMessage, done: (produce: () => Promise<T>) => void, pid: number): void;
  /** Sends the data and the command; `settled()` turns true once the run ended (stop sending). */
  feed(send: (msg: unknown) => Promise<void>, settled: () => boolean): Promise<void>;
  /** Runs once the run ended and the process has exited (temp files it may write into). */
  afterExit?(): void;
}

/**
 * Runs one training in a training process (the spare when it fits, see
 * takeTrainingProcess), the one skeleton of every kind's training: abort,
 * process failure and error messages handled once, the process killed and a
 * new spare started when the run ends. The replacement spare starts when this
 * training ends, not while it runs: Node's start and the addon's load (~100 ms
 * of CPU) beside a running training slowed CRFsuite's iterations by ~8 % on 2
 * cores (median CRFsuite time on ner.csv, 8 alternating runs: 0.506 s vs 0.464 s).
 */
export function runInTrainingProcess<T>(run: ProcessRun<T>): Promise<T> {
  if (run.signal?.aborted) return Promise.reject(new CancelledError("training cancelled"));
  const proc = takeTrainingProcess(run.nice);
  const child = proc.child;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const end = () => {
      proc.kill();
      if (run.afterExit) {
        if (proc.gone) run.afterExit();
        else child.once("exit", () => run.afterExit!());
      }
    };
    const finish = (err: Error | null, produce?: () => Promise<T>) => {
      if (settled) return;
      settled = true;
      run.signal?.removeEventListener("abort", onAbort);
      prewarmCrfTraining();
      if (err) {
        end();
        reject(err);
        return;
      }
      produce!()
        .then(resolve, (e: Error) => reject(e instanceof MlBridgeError ? e : new MlBridgeError("INTERNAL", `cannot read the trained model: ${e.message}`)))
        .finally(end);
    };
    const onAbort = () => finish(new CancelledError("training cancelled"));
    run.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("message", (msg: ProcessMessage) => {
      if (settled) return;
      if (msg.type === "error") {
        const { code, message } = msg as unknown as { code: ErrorCode; message: string };
        finish(code === "INVALID_ARGUMENT" ? new InvalidInputError(message) : new MlBridgeError(code, message));
      } else {
        run.message(msg, (produce) => finish(null, produce), proc.pid ?? 0);
      }
    });
    child.on("error", (err) => finish(new MlBridgeError("INTERNAL", `training process failed: ${err.message}`)));
    // "close", not "exit": it comes after the last message has been read.
    child.on("close", (code, signal) => finish(new MlBridgeError("INTERNAL", `training process exited unexpectedly (${signal ?? `code ${code}`})`)));
    if (proc.gone) {
      finish(new MlBridgeError("INTERNAL", `training process failed: ${proc.error?.message ?? "it exited before training"}`));
      return;
    }
    const send = (msg: unknown) => new Promise<void>((done) => child.send(msg as never, undefined, {}, () => done()));
    void run.feed(send, () => settled).catch((err: Error) => finish(err instanceof MlBridgeError ? err : new MlBridgeError("INTERNAL", err.message)));
  });
}
