// Scenario 3: batch predict of N rows × 4 features through XgboostService/Predict in chunks
// (four 250,000-row chunks in flight; from a Node grpc-js client and from mlbridge's Python client) vs
// xgboost's inplace_predict in-process on the same model and the same rows (Python, bench venv).
import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BENCH, ROOT, core, runPython, pythonBin, summary, fmt, unary } from "../lib.mjs";

/** mlbridge's own Python client (its venv is made by the python-client build). */
const CLIENT_PYTHON = path.join(ROOT, "clients/python/.venv/bin/python");
function pythonClientRun(address, featFile, cols, chunk, flight) {
  return new Promise((resolve, reject) =>
    execFile(
      CLIENT_PYTHON,
      [path.join(BENCH, "py/client_batch.py"), address, featFile, String(cols), String(chunk), String(flight)],
      { maxBuffer: 1 << 20 },
      (err, out, errOut) => (err ? reject(new Error(`client_batch.py: ${errOut || err.message}`)) : resolve(JSON.parse(out))),
    ),
  );
}
import { mlbridgeWithIris } from "./s1-predict.mjs";

export default async function s3(ctx) {
  const N = ctx.quick ? 50_000 : 1_000_000,
    CHUNK = ctx.quick ? 25_000 : 250_000,
    FLIGHT = 4,
    cols = 4;
  let a = 12345;
  const rnd = () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296;
  const lo = [4.3, 2.0, 1.0, 0.1],
    hi = [7.9, 4.4, 6.9, 2.5];
  const X = new Float32Array(N * cols);
  for (let i = 0; i < N; i++) for (let j = 0; j < cols; j++) X[i * cols + j] = lo[j] + (hi[j] - lo[j]) * rnd();
  const featFile = path.join(ctx.work, "batch.f32");
  writeFileSync(featFile, Buffer.from(X.buffer));
  const notes = [
    `${N.toLocaleString("en-US")} rows in chunks of ${CHUNK.toLocaleString("en-US")} rows (DenseMatrix, 4 MB each), ${FLIGHT} chunks in flight on one connection; time includes client-side encoding and decoding`,
    "the client sends DenseMatrix.raw_values (the chunk's little-endian float32 bytes, a view on the Float32Array), asks for raw_output and omit_class_names, then views the response's raw_values as a Float32Array (the class indices, as inplace_predict returns them): what a performance-aware client does, since repeated floats and a class name per row cost per-value protobuf work on both sides",
  ];
  const mb = await mlbridgeWithIris(ctx);
  const chunkRequest = (s) => {
    const r = Math.min(CHUNK, N - s),
      v = X.subarray(s * cols, (s + r) * cols);
    return {
      modelName: "iris",
      input: { $case: "matrix", value: { rows: r, cols, values: [], rawValues: Buffer.from(v.buffer, v.byteOffset, v.byteLength) } },
      output: 0,
      rawOutput: true,
      omitClassNames: true,
    };
  };
  // Each timed run follows a 1,000-row warm-up request, as the xgboost peer's inplace_predict does.
  const warmUp = () =>
    unary(mb.cl.xgb, "predict", {
      ...chunkRequest(0),
      input: { $case: "matrix", value: { rows: 1000, cols, values: [], rawValues: Buffer.from(X.buffer, X.byteOffset, 1000 * cols * 4) } },
    });
  const runOnce = async () => {
    await warmUp();
    const t0 = performance.now();
    let next = 0,
      rows = 0;
    await Promise.all(
      Array.from({ length: FLIGHT }, async () => {
        while (next < N) {
          const s = next;
          next += CHUNK;
          const r = await unary(mb.cl.xgb, "predict", chunkRequest(s));
          const b = r.rawValues,
            out = b.byteOffset % 4 ? new Float32Array(new Uint8Array(b).buffer) : new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
          if (out.length !== r.rows * r.cols) throw new Error(`got ${out.length} values for ${r.rows} × ${r.cols}`);
          rows += r.rows;
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    if (rows !== N) throw new Error(`got ${rows} rows`);
    return s;
  };
  // The three sides take turns, one repeat each, so that load from elsewhere on the machine
  // weighs on all of them alike (the ratio is of medians measured side by side).
  const m = core.XgbModel.fromBuffer(ctx.iris.json); // in-process core (no gRPC), for reference
  const ours = [],
    viaPython = [],
    inproc = [],
    theirs = [];
  const pyClient = existsSync(CLIENT_PYTHON);
  const python = pythonBin(); // checked once: each check starts a Python process
  let pyVersion;
  try {
    await runOnce(); // warm-up
    if (pyClient) await pythonClientRun(mb.srv.address, featFile, cols, CHUNK, FLIGHT);
    await m.predictAsync(X, N, cols);
    // Single runs last ~0.05-0.2 s and swing by ±20-40 % on this machine: 7 turns at least.
    const repeats = ctx.quick ? ctx.repeats : Math.max(ctx.repeats, 7);
    for (let i = 0; i < repeats; i++) {
      ours.push(N / (await runOnce()));
      if (pyClient) {
        const r = await pythonClientRun(mb.srv.address, featFile, cols, CHUNK, FLIGHT);
        if (r.rows !== N) throw new Error(`Python client got ${r.rows} rows`);
        viaPython.push(N / r.seconds);
      }
      const t0 = performance.now();
      await m.predictAsync(X, N, cols);
      inproc.push(N / ((performance.now() - t0) / 1000));
      if (python) {
        const py = await runPython("peers.py", { cmd: "xgb_batch", features: featFile, cols, model: ctx.iris.file, repeats: 1 });
        pyVersion = py.xgboost;
        theirs.push(N / py.seconds[0]);
      }
    }
  } finally {
    m.dispose();
    await mb.stop();
  }
  const results = {
    "mlbridge Predict (gRPC, chunked, Node client)": { rows_per_s: summary(ours) },
    "core predictAsync in-process (one call)": { rows_per_s: summary(inproc) },
  };
  if (viaPython.length) results["mlbridge Predict (gRPC, chunked, mlbridge Python client)"] = { rows_per_s: summary(viaPython) };
  else notes.push("mlbridge Python client skipped: clients/python/.venv not built");
  const ratios = [];
  if (theirs.length) {
    results[`xgboost ${pyVersion} inplace_predict in-process (Python)`] = { rows_per_s: summary(theirs) };
    ratios.push({
      name: "batch predict: mlbridge gRPC (Node client) / xgboost inplace_predict (rows/s)",
      value: summary(ours).median / summary(theirs).median,
      goal: 0.5,
      op: ">=",
    });
    if (viaPython.length)
      ratios.push({
        name: "batch predict: mlbridge gRPC (Python client) / xgboost inplace_predict (rows/s)",
        value: summary(viaPython).median / summary(theirs).median,
        goal: 0.5,
        op: ">=",
      });
    ratios.push({
      name: "batch predict: core in-process / xgboost inplace_predict (rows/s)",
      value: summary(inproc).median / summary(theirs).median,
      goal: null,
      op: "info",
    });
    notes.push(
      "mlbridge (both clients), core in-process and xgboost run in turns, one repeat each; the Python client sends numpy chunks from a thread pool (raw float32 both ways, class_names=False)",
    );
  } else notes.push("Python peer skipped: no venv with xgboost");
  for (const [k, v] of Object.entries(results)) ctx.log(`  s3 ${k}: ${fmt(v.rows_per_s.median, 0)} rows/s (±${fmt(v.rows_per_s.spreadPct, 1)}%)`);
  return { results, ratios, notes };
}
