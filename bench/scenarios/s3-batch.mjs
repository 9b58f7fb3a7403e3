// Scenario 3: batch predict of N rows × 4 features through XgboostService/Predict in chunks
// (two chunks in flight, Node grpc-js client) vs xgboost's inplace_predict in-process on the same model
// and the same rows (Python, bench venv).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { core, runPython, pythonBin, summary, fmt, unary } from "../lib.mjs";
import { mlbridgeWithIris } from "./s1-predict.mjs";

export default async function s3(ctx) {
  const N = ctx.quick ? 50_000 : 1_000_000, CHUNK = 50_000, cols = 4;
  let a = 12345; const rnd = () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296);
  const lo = [4.3, 2.0, 1.0, 0.1], hi = [7.9, 4.4, 6.9, 2.5];
  const X = new Float32Array(N * cols);
  for (let i = 0; i < N; i++) for (let j = 0; j < cols; j++) X[i * cols + j] = lo[j] + (hi[j] - lo[j]) * rnd();
  const featFile = path.join(ctx.work, "batch.f32");
  writeFileSync(featFile, Buffer.from(X.buffer));
  const notes = [
    `${N.toLocaleString("en-US")} rows in chunks of ${CHUNK.toLocaleString("en-US")} rows (DenseMatrix), 2 chunks in flight; time includes client-side encoding and decoding`,
    "the client sends DenseMatrix.raw_values (the chunk's little-endian float32 bytes, a view on the Float32Array), asks for raw_output and omit_class_names, then views the response's raw_values as a Float32Array (the class indices, as inplace_predict returns them): what a performance-aware client does, since repeated floats and a class name per row cost per-value protobuf work on both sides",
  ];
  const mb = await mlbridgeWithIris(ctx);
  const chunkRequest = (s) => {
    const r = Math.min(CHUNK, N - s), v = X.subarray(s * cols, (s + r) * cols);
    return { modelName: "iris", input: { $case: "matrix", value: { rows: r, cols, values: [], rawValues: Buffer.from(v.buffer, v.byteOffset, v.byteLength) } }, output: 0, rawOutput: true, omitClassNames: true };
  };
  const runOnce = async () => {
    const t0 = performance.now();
    let next = 0, rows = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < N) {
        const s = next; next += CHUNK;
        const r = await unary(mb.cl.xgb, "predict", chunkRequest(s));
        const b = r.rawValues, out = b.byteOffset % 4 ? new Float32Array(new Uint8Array(b).buffer) : new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        if (out.length !== r.rows * r.cols) throw new Error(`got ${out.length} values for ${r.rows} × ${r.cols}`);
        rows += r.rows;
      }
    }));
    const s = (performance.now() - t0) / 1000;
    if (rows !== N) throw new Error(`got ${rows} rows`);
    return s;
  };
  // The three sides take turns, one repeat each, so that load from elsewhere on the machine
  // weighs on all of them alike (the ratio is of medians measured side by side).
  const m = core.XgbModel.fromBuffer(ctx.iris.json); // in-process core (no gRPC), for reference
  const ours = [], inproc = [], theirs = [];
  const python = pythonBin(); // checked once: each check starts a Python process
  let pyVersion;
  try {
    await runOnce(); // warm-up
    await m.predictAsync(X, N, cols);
    for (let i = 0; i < ctx.repeats; i++) {
      ours.push(N / (await runOnce()));
      const t0 = performance.now(); await m.predictAsync(X, N, cols); inproc.push(N / ((performance.now() - t0) / 1000));
      if (python) {
        const py = await runPython("peers.py", { cmd: "xgb_batch", features: featFile, cols, model: ctx.iris.file, repeats: 1 });
        pyVersion = py.xgboost;
        theirs.push(N / py.seconds[0]);
      }
    }
  } finally { m.dispose(); await mb.stop(); }
  const results = { "mlbridge Predict (gRPC, chunked)": { rows_per_s: summary(ours) }, "core predictAsync in-process (one call)": { rows_per_s: summary(inproc) } };
  const ratios = [];
  if (theirs.length) {
    results[`xgboost ${pyVersion} inplace_predict in-process (Python)`] = { rows_per_s: summary(theirs) };
    ratios.push({ name: "batch predict: mlbridge gRPC / xgboost inplace_predict (rows/s)", value: summary(ours).median / summary(theirs).median, goal: 0.5, op: ">=" });
    ratios.push({ name: "batch predict: core in-process / xgboost inplace_predict (rows/s)", value: summary(inproc).median / summary(theirs).median, goal: null, op: "info" });
    notes.push("mlbridge, core in-process and xgboost run in turns, one repeat each");
  } else notes.push("Python peer skipped: no venv with xgboost");
  for (const [k, v] of Object.entries(results)) ctx.log(`  s3 ${k}: ${fmt(v.rows_per_s.median, 0)} rows/s (±${fmt(v.rows_per_s.spreadPct, 1)}%)`);
  return { results, ratios, notes };
}
