/**
 * The CRF training process (see train.ts and train-process.ts). Started ahead
 * of use: it lowers its priority and loads the addon at once, then waits.
 * One training per process:
 *
 *   parent → { type: "start", algorithm, params }
 *   parent → { type: "data", packed, labels }   (repeated: PackedSequences
 *                                      and their NUL-terminated labels,
 *                                      appended as they arrive)
 *   or, for a CSV (trainCrfCsv):
 *   parent → { type: "csv", bytes }   (repeated: the CSV's bytes in order)
 *   parent → { type: "fitCsv", algorithm, params, template, testFraction, seed }
 *                                     parse, split, append the training part
 *   child  → { type: "parsed", counts }
 *   then:
 *   parent → { type: "end", file }    train, write the model to `file`
 *   child  → { type: "log", lines }   (CRFsuite's log, during training: one
 *                                      message per iteration, not per line)
 *   child  → { type: "done", metrics? } | { type: "error", code, message }
 *                                     (metrics: of the held-out part, fitCsv only)
 *
 * or an XGBoost training (xgboost/train.ts):
 *   parent → { type: "xgbPart", field, part }   (repeated: the values, labels
 *                                      and weights, in order, in parts)
 *   parent → { type: "xgbTrain", rows, cols, featureNames, classNames, options }
 *   child  → { type: "xgbProgress", progress }  (one per round)
 *   child  → { type: "xgbDone", model, result } | { type: "error", code, message }
 *
 * It exits after the training, and at once when the parent goes away (the
 * IPC channel closes), so that no training outlives the process that asked
 * for it.
 */
import { readdirSync } from "node:fs";
import os from "node:os";
import { binding, type NativeCrfTrainer, type PackedSequences } from "../binding";
import { countItems, readNerCsv, type CrfSequence } from "./data";
import type { CrfFeatureTemplate } from "./features";
import type { CrfMetrics } from "./metrics";
import { CrfModel } from "./model";
import { packLabels, packValidSequences } from "./packed";
import { scoreHoldout, splitSequences } from "./pipeline";
import { checkTrainingSequences } from "./train";
import { trainXgboostHere, type XgbTrainOptions } from "../xgboost/train";

/** Sets the nice value of every thread of this process to at least `target`. */
function lowerPriority(target: number): void {
  if (!Number.isInteger(target) || target <= 0) return;
  let threads = [0];
  try {
    // Linux keeps a nice value per thread: set each one (threads started later
    // inherit it from the thread that starts them).
    threads = readdirSync("/proc/self/task").map(Number);
  } catch {
    // elsewhere the process's value covers all its threads
  }
  for (const tid of threads) {
    try {
      if (os.getPriority(tid) < target) os.setPriority(tid, target);
    } catch {
      // a thread that ended meanwhile
    }
  }
}

const nice = Number(process.argv[2]);
lowerPriority(nice);

type Message =
  | { type: "start"; algorithm: string; params: Record<string, string> }
  | { type: "data"; packed: PackedSequences; labels: Uint8Array }
  | { type: "csv"; bytes: Uint8Array }
  | { type: "fitCsv"; algorithm: string; params: Record<string, string>; template: CrfFeatureTemplate; testFraction: number; seed: number }
  | { type: "end"; file: string }
  | { type: "xgbPart"; field: "values" | "labels" | "weights"; part: Float32Array }
  | { type: "xgbTrain"; rows: number; cols: number; featureNames: string[]; classNames: string[]; options: XgbTrainOptions };

let loadError: unknown;
try {
  binding();
} catch (err) {
  loadError = err;
}

let trainer: NativeCrfTrainer | undefined;
let failed = false;

/**
 * CRFsuite's log lines, sent in batches: each line as its own message woke
 * both processes ~2,000 times a second on a short training, time taken from
 * CRFsuite on a busy machine. A batch ends with an iteration (its "Seconds
 * required" line), so progress events stay per iteration, or after 100 ms.
 */
let pending: string[] = [];
let flushTimer: NodeJS.Timeout | undefined;
function flushLog(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending.length === 0) return;
  process.send!({ type: "log", lines: pending });
  pending = [];
}
function log(line: string): void {
  pending.push(line);
  if (line.startsWith("Seconds required")) flushLog();
  else flushTimer ??= setTimeout(flushLog, 100);
}

function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  flushLog();
  const e = err as { code?: string; message?: string };
  process.send!({ type: "error", code: e?.code ?? "INTERNAL", message: e?.message ?? String(err) }, undefined, {}, () => process.exit(0));
}

process.on("disconnect", () => process.exit(0));

/** The CSV's bytes so far, and its held-out sentences once read (fitCsv). */
const csvParts: Uint8Array[] = [];
let heldOut: CrfSequence[] = [];

function startTrainer(algorithm: string, params: Record<string, string>): NativeCrfTrainer {
  if (loadError) throw loadError;
  const t = new (binding().CrfTrainer)(algorithm);
  for (const [k, v] of Object.entries(params)) t.set(k, v);
  return t;
}

/** An XGBoost training's arrays, in the parts they arrive in. */
const xgbParts: Record<string, Float32Array[]> = { values: [], labels: [], weights: [] };

function joined(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function handle(msg: Message): Promise<void> {
  if (msg.type === "xgbPart") {
    xgbParts[msg.field].push(msg.part);
  } else if (msg.type === "xgbTrain") {
    lowerPriority(nice);
    if (loadError) throw loadError;
    const data = {
      values: joined(xgbParts.values),
      labels: joined(xgbParts.labels),
      weights: xgbParts.weights.length ? joined(xgbParts.weights) : undefined,
      rows: msg.rows,
      cols: msg.cols,
      featureNames: msg.featureNames,
      classNames: msg.classNames,
    };
    xgbParts.values = xgbParts.labels = xgbParts.weights = [];
    const { model, ...result } = await trainXgboostHere(data, { ...msg.options, onProgress: (progress) => process.send!({ type: "xgbProgress", progress }) });
    const bytes = model.toBuffer("ubj");
    model.dispose();
    process.send!({ type: "xgbDone", model: bytes, result }, undefined, {}, () => process.exit(0));
  } else if (msg.type === "start") {
    trainer = startTrainer(msg.algorithm, msg.params);
  } else if (msg.type === "data") {
    trainer!.appendPacked(msg.packed, msg.labels, 0);
  } else if (msg.type === "csv") {
    csvParts.push(msg.bytes);
  } else if (msg.type === "fitCsv") {
    const csv = Buffer.concat(csvParts);
    csvParts.length = 0;
    const data = await readNerCsv(csv, msg.template, true);
    const { train, test } = splitSequences(data.sequences, msg.testFraction, msg.seed);
    checkTrainingSequences(train);
    trainer = startTrainer(msg.algorithm, msg.params);
    // One append: this process has no event loop to keep free (trainCrf sends parts for the caller's sake).
    trainer.appendPacked(packValidSequences(train.map((s) => s.items)), packLabels(train.flatMap((s) => s.labels!)), 0);
    heldOut = test;
    process.send!({
      type: "parsed",
      counts: { trainSequences: train.length, testSequences: test.length, trainTokens: countItems(train), testTokens: countItems(test) },
    });
  } else if (msg.type === "end") {
    lowerPriority(nice);
    const t = trainer!;
    const { status } = await t.train(msg.file, -1, log);
    flushLog();
    if (status !== 0) throw Object.assign(new Error(`crfsuite training failed with status ${status}`), { code: "CRFSUITE_ERROR" });
    t.dispose();
    let metrics: CrfMetrics | undefined;
    if (heldOut.length) {
      const model = await CrfModel.fromFile(msg.file);
      metrics = await scoreHoldout(model, heldOut);
      model.dispose();
    }
    process.send!({ type: "done", metrics }, undefined, {}, () => process.exit(0));
  }
}

// One message at a time, in order: a CSV's parsing is asynchronous, and the
// "end" behind it waits for it.
let queue = Promise.resolve();
process.on("message", (msg: Message) => {
  queue = queue.then(() => (failed ? undefined : handle(msg))).catch(fail);
});
