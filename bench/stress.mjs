#!/usr/bin/env node
// Stress (outside the default `npm test`; `npm run stress`): is the server still
// answering while it digests the largest inputs its defaults accept?
//
// A real server process gets, at once and each from its own process:
//   - an XGBoost Train upload of --upload-mb MB of CSV (default 256);
//   - a CRF Predict whose CSV is one --line-mb MB line (default 60);
//   - a CRF Train upload of --ner-mb MB of the book's NER format (default 64);
// while this process, on a connection of its own, calls Health and a
// single-row XGBoost Predict every 20 ms. It prints the probes' p50/p99/max,
// how long each big call took and what it answered, and the server's peak RSS
// (from /proc, every 50 ms) per MB of CSV. Exits 1 when the probes' p99
// exceeds --goal-ms (default 50) or a probe failed.
// Traffic goes to 127.0.0.1 only; every loop is bounded in time.
// Usage: node bench/stress.mjs [--upload-mb 256] [--line-mb 60] [--ner-mb 64] [--goal-ms 50]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DATA, clients, rssKiB, sleep, startServerProcess, unary, bidi } from "./lib.mjs";

const { values: opt } = parseArgs({
  options: {
    role: { type: "string" },
    address: { type: "string" },
    "upload-mb": { type: "string", default: "256" },
    "line-mb": { type: "string", default: "60" },
    "ner-mb": { type: "string", default: "64" },
    "goal-ms": { type: "string", default: "50" },
  },
});

/** A numeric CSV of about `mb` MB: 8 features and a 3-class label. */
function xgbCsv(mb) {
  const parts = ["a,b,c,d,e,f,g,h,label\n"];
  let size = parts[0].length;
  for (let i = 0; size < mb * 1e6; i++) {
    const r = `${(i % 97) / 7},${i % 13},${((i * 7) % 101) / 3},${i % 5},${i % 11},${(i % 17) / 3},${i % 3},${i % 23},${i % 3}\n`;
    parts.push(r);
    size += r.length;
  }
  return Buffer.from(parts.join(""));
}

/** About `mb` MB of the NER training format: the data folder's ner_large.csv repeated. */
function nerCsv(mb) {
  const big = readFileSync(`${DATA}/gmb/ner_large.csv`);
  const cut = big.indexOf(10) + 1;
  const parts = [big.subarray(0, cut)];
  let size = cut;
  while (size < mb * 1e6) {
    parts.push(big.subarray(cut));
    size += big.length - cut;
  }
  return Buffer.concat(parts);
}

const header = (payload) => ({ payload: { $case: "header", value: payload } });
const chunked = (buf, size = 1 << 20) =>
  Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => ({ payload: { $case: "csvChunk", value: buf.subarray(i * size, (i + 1) * size) } }));

// ---- a load role, in its own process: prints one JSON line -----------------
if (opt.role) {
  const cl = clients(opt.address);
  const t0 = performance.now();
  let outcome;
  try {
    if (opt.role === "upload") {
      const csv = xgbCsv(Number(opt["upload-mb"]));
      await bidi(cl.xgb.train(), [
        header({
          modelName: "stress-xgb",
          preset: "",
          parameters: { objective: "multi:softmax", num_class: "3" },
          numRounds: 2,
          seed: 0,
          featureNames: [],
          classNames: [],
          labelColumn: "",
          failIfExists: false,
        }),
        ...chunked(csv),
      ]);
      outcome = `OK (${(csv.length / 1e6).toFixed(0)} MB)`;
    } else if (opt.role === "line") {
      const predictHeader = readFileSync(`${DATA}/book/ner_predict.csv`, "utf8").split("\n")[0];
      const line = Buffer.alloc(Number(opt["line-mb"]) * 1e6, "x,");
      await unary(cl.crf, "predict", { modelName: "stress-ner", csv: Buffer.concat([Buffer.from(predictHeader + "\n"), line]) });
      outcome = "OK";
    } else if (opt.role === "ner") {
      const csv = nerCsv(Number(opt["ner-mb"]));
      await bidi(cl.crf.train(), [
        header({
          modelName: "stress-ner-big",
          algorithm: 0,
          parameters: { max_iterations: "2" },
          featurePreset: "",
          seed: 0,
          noHoldout: false,
          failIfExists: false,
        }),
        ...chunked(csv),
      ]);
      outcome = `OK (${(csv.length / 1e6).toFixed(0)} MB)`;
    }
  } catch (err) {
    outcome = `${err.code} ${String(err.details ?? err.message).slice(0, 120)}`;
  }
  console.log(JSON.stringify({ role: opt.role, seconds: (performance.now() - t0) / 1000, outcome }));
  cl.close();
  process.exit(0);
}

// ---- the driver ---------------------------------------------------------------
const server = await startServerProcess();
// The server never outlives this script, however it ends.
process.on("exit", () => server.child.kill("SIGKILL"));
const cl = clients(server.address);
await bidi(cl.xgb.train(), [
  header({
    modelName: "stress-iris",
    preset: "iris",
    parameters: {},
    numRounds: 2,
    seed: 0,
    featureNames: [],
    classNames: [],
    labelColumn: "",
    failIfExists: false,
  }),
  ...chunked(readFileSync(`${DATA}/book/iris.csv`)),
]);
await bidi(cl.crf.train(), [
  header({ modelName: "stress-ner", algorithm: 0, parameters: { max_iterations: "5" }, featurePreset: "book", seed: 0, noHoldout: true, failIfExists: false }),
  ...chunked(readFileSync(`${DATA}/book/ner.csv`)),
]);
const health = new (await import("./lib.mjs")).grpc.Client(server.address, (await import("./lib.mjs")).grpc.credentials.createInsecure());
const check = () =>
  new Promise((res, rej) =>
    health.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      () => Buffer.alloc(0),
      (b) => b,
      {},
      (e) => (e ? rej(e) : res()),
    ),
  );

const roles = ["upload", "line", "ner"].map((role) => {
  const child = spawn(
    process.execPath,
    [
      new URL(import.meta.url).pathname,
      "--role",
      role,
      "--address",
      server.address,
      "--upload-mb",
      opt["upload-mb"],
      "--line-mb",
      opt["line-mb"],
      "--ner-mb",
      opt["ner-mb"],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return new Promise((res) => child.once("exit", () => res(out.trim() ? JSON.parse(out.trim().split("\n").at(-1)) : { role, outcome: "no result" })));
});
let running = true;
const all = Promise.all(roles).then((r) => {
  running = false;
  return r;
});

const latencies = { health: [], predict: [] };
let failures = 0;
let peakRss = 0;
const sampler = setInterval(() => {
  try {
    peakRss = Math.max(peakRss, rssKiB(server.pid));
  } catch {}
}, 50);
const deadline = Date.now() + 15 * 60_000;
while (running && Date.now() < deadline) {
  for (const [name, call] of [
    ["health", check],
    [
      "predict",
      () =>
        unary(cl.xgb, "predict", {
          modelName: "stress-iris",
          input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } },
          output: 0,
        }),
    ],
  ]) {
    const t = performance.now();
    try {
      await call();
      latencies[name].push(performance.now() - t);
    } catch (err) {
      failures++;
      console.log(`probe ${name} failed: ${err.code} ${err.details}`);
    }
  }
  await sleep(20);
}
const results = await all;
clearInterval(sampler);
const idleRss = rssKiB(server.pid);
await server.stop();
cl.close();
health.close();

const goal = Number(opt["goal-ms"]);
let worst = 0;
for (const [name, xs] of Object.entries(latencies)) {
  const s = [...xs].sort((a, b) => a - b);
  const p99 = quantile(s, 0.99);
  worst = Math.max(worst, p99);
  console.log(`${name}: ${s.length} probes, p50 ${quantile(s, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${s.at(-1).toFixed(1)} ms`);
}
for (const r of results) console.log(`${r.role}: ${r.seconds?.toFixed(1)} s, ${r.outcome}`);
const mb = Number(opt["upload-mb"]) + Number(opt["line-mb"]) + Number(opt["ner-mb"]);
console.log(
  `server RSS: peak ${(peakRss / 1024).toFixed(0)} MiB (${(peakRss / 1024 / mb).toFixed(2)} MiB per MB of input at once), after ${(idleRss / 1024).toFixed(0)} MiB`,
);
const ok = failures === 0 && worst <= goal;
console.log(`RATIO stress: probe p99 during the big inputs (ms) = ${worst.toFixed(1)} (goal <= ${goal}: ${ok ? "met" : "MISSED"})`);
process.exit(ok ? 0 : 1);
