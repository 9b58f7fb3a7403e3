/**
 * The worker thread of offthread.ts: runs one reader on its input and posts
 * the result with its typed arrays transferred.
 */
import { parentPort, workerData } from "node:worker_threads";
import { readNerCsvPackedHere } from "../crf/data";
import type { CrfFeatureTemplate } from "../crf/features";
import { readFeatureCsvHere, readLabelledCsvHere } from "../xgboost/data";
import type { OffThreadJob } from "./offthread";

/** The ArrayBuffers of a result's typed arrays, to transfer rather than copy. */
function buffers(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) out.add(value.buffer);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) buffers(v, out);
  }
  return [...out];
}

async function run(job: OffThreadJob): Promise<unknown> {
  const a = job.args;
  if (job.op === "labelled") return readLabelledCsvHere(job.source, a[0] as string | undefined);
  if (job.op === "features") return readFeatureCsvHere(job.source, a[0] as string[], a[1] as number);
  return readNerCsvPackedHere(job.source, a[0] as CrfFeatureTemplate, a[1] as boolean);
}

run(workerData as OffThreadJob).then(
  (result) => parentPort!.postMessage({ ok: true, result }, buffers(result)),
  (err: { code?: string; message?: string }) =>
    parentPort!.postMessage({ ok: false, code: typeof err?.code === "string" ? err.code : "INTERNAL", message: err?.message ?? String(err) }),
);
