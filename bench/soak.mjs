#!/usr/bin/env node
// Load and soak (outside CI): a real server process under a mixed workload for
// a fixed time — ghz single-row Predict, Tag (10 sentences), CountWords, each
// from its own ghz process, plus a CRF retraining every 30 s — then reports
// unexpected errors, p99 per call type, and the server's RSS at start, middle, end.
// Traffic goes to 127.0.0.1 only; every loop is bounded in time.
// Usage: node bench/soak.mjs [--minutes 10] [--concurrency 8]   (needs bench/setup.sh's ghz)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT, BENCH, DATA, PEERS, grpc, core, gen_, sleep } from "./lib.mjs";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "10" }, concurrency: { type: "string", default: "8" } } });
const seconds = Math.round(Number(values.minutes) * 60);
const ghz = path.join(PEERS, "bin", "ghz");
if (!existsSync(ghz)) throw new Error(`ghz is missing: run bash bench/setup.sh`);
const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-soak-"));
const portFile = path.join(dir, "port");
const server = spawn(
  process.execPath,
  [
    path.join(ROOT, "packages/server/dist/cli.js"),
    "serve",
    "--port",
    "0",
    "--http-port",
    "0",
    "--model-dir",
    path.join(dir, "models"),
    "--port-file",
    portFile,
    "--log-level",
    "warn",
  ],
  { stdio: ["ignore", "inherit", "inherit"] },
);
while (!existsSync(portFile) || !readFileSync(portFile, "utf8").trim()) await sleep(50);
const address = `127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))[1]) / 1024;
const creds = grpc.credentials.createInsecure();
const xgb = new gen_.xgb.XgboostServiceClient(address, creds);
const crf = new gen_.crf.CrfServiceClient(address, creds);
const bidi = (s, reqs) =>
  new Promise((res, rej) => {
    s.on("data", () => {});
    s.on("error", rej);
    s.on("end", res);
    for (const r of reqs) s.write(r);
    s.end();
  });
const trainCrf = () =>
  bidi(crf.train(), [
    {
      payload: {
        $case: "header",
        value: { modelName: "ner", algorithm: 0, parameters: {}, featurePreset: "book", seed: 0, noHoldout: false, failIfExists: false },
      },
    },
    { payload: { $case: "csvChunk", value: readFileSync(path.join(DATA, "book/ner.csv")) } },
  ]);
await bidi(xgb.train(), [
  {
    payload: {
      $case: "header",
      value: { modelName: "iris", preset: "iris", parameters: {}, seed: 0, featureNames: [], classNames: [], labelColumn: "", failIfExists: false },
    },
  },
  { payload: { $case: "csvChunk", value: readFileSync(path.join(DATA, "book/iris.csv")) } },
]);
await trainCrf();
const ner = await core.readNerCsv(path.join(DATA, "book/ner.csv"), core.CRF_PRESETS.book.template, false);
const tenPacked = core.packSequences(ner.sequences.slice(0, 10).map((s) => s.items));
const tagData = {
  model_name: "ner",
  packed: {
    attribute_names: Buffer.from(tenPacked.attributeNames).toString("base64"), // bytes in protobuf JSON
    attribute_weights: Array.from(tenPacked.attributeWeights ?? []),
    item_attribute_counts: Array.from(tenPacked.itemAttributeCounts),
    sequence_lengths: Array.from(tenPacked.sequenceLengths),
  },
};
const jobs = {
  predict: {
    call: "mlbridge.v1.XgboostService/Predict",
    proto: path.join(BENCH, "proto/bench_predict.proto"),
    data: { model_name: "iris", matrix: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } },
  },
  tag: { call: "mlbridge.v1.CrfService/Tag", data: tagData },
  count: { call: "mlbridge.v1.TextService/CountWords", data: { text: "the quick brown fox jumps over the lazy dog ".repeat(20) } },
};
const rss0 = rss();
const reports = {};
const runs = Object.entries(jobs).map(
  ([name, j]) =>
    new Promise((resolve) => {
      const dataFile = path.join(dir, `${name}.json`);
      writeFileSync(dataFile, JSON.stringify(j.data));
      const args = [
        "--insecure",
        "--call",
        j.call,
        "-D",
        dataFile,
        "-c",
        values.concurrency,
        "-z",
        `${seconds}s`,
        "--connections",
        "2",
        "--duration-stop",
        "wait",
        "-O",
        "json",
      ];
      if (j.proto) args.push("--proto", j.proto, "-i", path.dirname(j.proto)); // else reflection
      const p = spawn(ghz, [...args, address], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.on("exit", () => {
        reports[name] = JSON.parse(out);
        resolve();
      });
    }),
);
let trainings = 0,
  trainingErrors = 0,
  rssMid;
const until = Date.now() + seconds * 1000;
const trainer = (async () => {
  while (Date.now() + 30_000 < until) {
    await sleep(30_000);
    await trainCrf().then(
      () => trainings++,
      () => trainingErrors++,
    );
    if (!rssMid && Date.now() > until - seconds * 500) rssMid = rss();
  }
})();
await Promise.all([...runs, trainer]);
const rss1 = rss();
const ms = (ns) => (ns / 1e6).toFixed(2);
console.log(`soak: ${values.minutes} min, ghz concurrency ${values.concurrency} per call type, ${trainings} CRF retrainings (${trainingErrors} failed)`);
for (const [name, r] of Object.entries(reports)) {
  const p = Object.fromEntries(r.latencyDistribution.map((d) => [d.percentage, d.latency]));
  const errors = Object.entries(r.statusCodeDistribution ?? {}).filter(([c]) => c !== "OK");
  console.log(
    `  ${name}: ${r.count} calls, ${r.rps.toFixed(0)} req/s, p50 ${ms(p[50])} ms, p99 ${ms(p[99])} ms, errors ${errors.length ? JSON.stringify(Object.fromEntries(errors)) : "none"}`,
  );
}
console.log(`  server RSS: ${rss0.toFixed(0)} MiB after warm-up, ${rssMid?.toFixed(0)} MiB mid-run, ${rss1.toFixed(0)} MiB at the end`);
xgb.close();
crf.close();
server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
rmSync(dir, { recursive: true, force: true });
