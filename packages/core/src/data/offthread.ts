/**
 * CSV readers run on a worker thread, so that parsing a large upload never
 * blocks the event loop (nor grows the main thread's heap, whose collections
 * pause every request): the result comes back as typed arrays, transferred,
 * not copied. A fresh worker per job: its heap is gone when it ends.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import { MlBridgeError, type ErrorCode } from "../errors";

/** Inputs at least this large (bytes) are parsed on a worker thread; smaller ones where they are (a worker costs ~30 ms to start). */
export const OFF_THREAD_BYTES = 256 * 1024;

/** A parse job: the reader's name and arguments, the source as bytes or a file path. */
export interface OffThreadJob {
  op: "labelled" | "features" | "nerPacked";
  source: string | Uint8Array;
  args: unknown[];
}

/** The worker's script (compiled; run from dist even under vitest). */
const script = path.resolve(__dirname, "..", "..", "dist", "data", "parse-worker.js");

/** Whether a source should be parsed on a worker thread. */
export function parseOffThread(source: unknown): source is string | Uint8Array {
  return typeof source === "string" || (source instanceof Uint8Array && source.byteLength >= OFF_THREAD_BYTES);
}

/**
 * Runs `job` on a new worker thread. Bytes are copied once into the worker
 * (the caller's buffer may be a view into a larger one that must stay usable).
 * @throws what the reader throws, with its code and message
 */
export function runOffThread<T>(job: OffThreadJob): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(script, { workerData: job });
    let settled = false;
    worker.once("message", (msg: { ok: true; result: T } | { ok: false; code: ErrorCode; message: string }) => {
      settled = true;
      if (msg.ok) resolve(msg.result);
      else reject(new MlBridgeError(msg.code, msg.message));
      void worker.terminate();
    });
    worker.once("error", (err) => {
      if (!settled) reject(new MlBridgeError("INTERNAL", `the parse worker failed: ${err.message}`));
      settled = true;
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new MlBridgeError("INTERNAL", `the parse worker exited with code ${code}`));
      settled = true;
    });
  });
}
