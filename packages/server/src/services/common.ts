import { status } from "@grpc/grpc-js";
import type { ModelRuntime, RuntimeModel } from "@mlbridge/core";
import type { TrainProgress } from "../generated/mlbridge/v1/types";
import { invalid, statusError } from "../errors";
import type { ModelMeta, ModelStore } from "../store";

const PROGRESS_EVERY = 4 * 1024 * 1024;

/**
 * Receives the byte chunks of a header-then-data stream (`chunkCase` messages)
 * up to `maxBytes`. Messages of another kind go to `other`, which returns
 * the bytes of data it took from one (counted toward `maxBytes` too), or
 * false when it does not take it.
 * @returns the bytes, or undefined when no chunk came
 * @throws RESOURCE_EXHAUSTED past the limit; INVALID_ARGUMENT for a second header or an empty message
 */
export async function receiveBytes<T extends { payload?: { $case: string; value: unknown } }>(
  rest: AsyncIterable<T>,
  chunkCase: string,
  maxBytes: number,
  onProgress: (bytes: number) => void,
  other: (msg: T, index: number) => number | false = () => false,
): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let next = PROGRESS_EVERY;
  let i = 0;
  for await (const msg of rest) {
    i++;
    const p = msg.payload;
    if (p?.$case === chunkCase) {
      const chunk = p.value as Uint8Array;
      bytes += chunk.length;
      if (bytes > maxBytes) throw statusError(status.RESOURCE_EXHAUSTED, `the upload exceeds the server's limit of ${maxBytes} bytes`);
      chunks.push(chunk);
      if (bytes >= next) {
        onProgress(bytes);
        next = bytes + PROGRESS_EVERY;
      }
    } else if (p?.$case !== "header" && p !== undefined) {
      const taken = other(msg, i);
      if (taken === false) throw invalid(`message ${i}`, `unexpected ${p.$case}`);
      bytes += taken;
      if (bytes > maxBytes) throw statusError(status.RESOURCE_EXHAUSTED, `the upload exceeds the server's limit of ${maxBytes} bytes`);
    } else if (p?.$case === "header") {
      throw invalid(`message ${i}`, "the header was sent twice");
    } else {
      throw invalid(`message ${i}`, "an empty message (no payload)");
    }
  }
  return chunks.length ? Buffer.concat(chunks, bytes) : undefined;
}

/**
 * Runs `fn` with a loaded model (of `version` when not 0: see
 * ModelStore.checkVersion). If the model was replaced (and its old version
 * freed) while the request was between awaits, runs once more with the new
 * version, so that predictions keep working during retraining.
 */
export async function withModel<M extends RuntimeModel, T>(
  store: ModelStore,
  name: string,
  runtime: ModelRuntime<M>,
  fn: (model: M, meta: ModelMeta) => Promise<T> | T,
  version = 0,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const loaded = await store.load(name, runtime);
    store.checkVersion(loaded.meta, version);
    try {
      return await fn(loaded.model, loaded.meta);
    } catch (err) {
      if (attempt === 0 && (err as { code?: string }).code === "DISPOSED") continue;
      throw err;
    }
  }
}

/** A progress event of a training that started at `started` (performance.now()), defaults filled in. */
export function progressEvent(started: number, p: Partial<TrainProgress>): TrainProgress {
  return {
    stage: "",
    iteration: 0,
    loss: 0,
    activeFeatures: 0,
    elapsedSeconds: (performance.now() - started) / 1000,
    evalLog: "",
    metrics: {},
    bytesReceived: 0,
    ...p,
  };
}
