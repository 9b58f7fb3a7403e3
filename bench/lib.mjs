// Shared helpers of the benchmark harness: paths, stats, servers, load generators, Python peers.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { testDataDir } from "../scripts/lib/test-data.mjs";

export const require = createRequire(import.meta.url);
export const BENCH = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH, "..");
/**
 * The data folder, laid out as shared/data is (book/*.csv, gmb/ner_large.csv):
 * $MLBRIDGE_DATA, else ../shared/data beside the checkout, else the project's
 * own test data (scripts/make-test-data.mjs) in that layout, so that the quick
 * run in `npm test` works on a plain clone. Recorded results are measured on
 * the book's and GMB's files; numbers on the project's data are not comparable.
 */
function benchData() {
  if (process.env.MLBRIDGE_DATA) return process.env.MLBRIDGE_DATA;
  const shared = path.resolve(ROOT, "../shared/data");
  if (existsSync(path.join(shared, "book", "ner.csv")) && existsSync(path.join(shared, "gmb", "ner_large.csv"))) return shared;
  const own = testDataDir();
  const dir = path.join(ROOT, "build", "bench-data");
  mkdirSync(path.join(dir, "gmb"), { recursive: true });
  const link = (target, at) => {
    if (!existsSync(at)) symlinkSync(target, at);
  };
  link(own, path.join(dir, "book"));
  link(path.join(own, "ner_large.csv"), path.join(dir, "gmb", "ner_large.csv"));
  console.log(`bench: note: no book data at ${shared}: running on the project's own data (build/test-data); ratios are not comparable to recorded results`);
  return dir;
}
export const DATA = benchData();
export const PEERS = path.join(BENCH, ".peers");
export const core = require(path.join(ROOT, "packages/core/dist/index.js"));
export const grpc = require(path.join(ROOT, "node_modules/@grpc/grpc-js"));
const gen = (f) => require(path.join(ROOT, "packages/server/dist/generated/mlbridge/v1", f));
export const gen_ = { xgb: gen("xgboost_service.js"), crf: gen("crf_service.js"), text: gen("text_service.js"), model: gen("model_service.js") };
export const PROTO_DIR = path.join(ROOT, "proto");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
export const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
/** median and spread (min..max, and relative half-range) of repeated measurements */
export function summary(xs) {
  const m = median(xs);
  const lo = Math.min(...xs),
    hi = Math.max(...xs);
  return { median: m, min: lo, max: hi, spreadPct: m ? (100 * (hi - lo)) / 2 / m : 0, n: xs.length, samples: xs };
}
export const fmt = (x, d = 2) => (x == null || Number.isNaN(x) ? "n/a" : Math.abs(x) >= 1e4 ? Math.round(x).toLocaleString("en-US") : x.toFixed(d));
export const loadavg = () => os.loadavg().map((x) => +x.toFixed(2));
export const tmpdir = (p = "mlbridge-bench-") => mkdtempSync(path.join(os.tmpdir(), p));

export function rssKiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]);
}

// ---- gRPC helpers ---------------------------------------------------------
export const unary = (client, method, req) => new Promise((res, rej) => client[method](req, (e, r) => (e ? rej(e) : res(r))));
export const bidi = (stream, reqs, onData = () => undefined) =>
  new Promise((res, rej) => {
    const out = [];
    stream.on("data", (d) => {
      out.push(d);
      onData(d);
    });
    stream.on("error", rej);
    stream.on("end", () => res(out));
    for (const r of reqs) stream.write(r);
    stream.end();
  });
export const clientStream = (stream, reqs) =>
  new Promise((res, rej) => {
    const call = stream((e, r) => (e ? rej(e) : res(r)));
    for (const r of reqs) call.write(r);
    call.end();
  });
const CLIENT_OPTS = { "grpc.max_receive_message_length": 256 << 20, "grpc.max_send_message_length": 256 << 20 };
/** Clients of every service on one channel; `options` adds channel options (e.g. a connection of its own). */
export function clients(address, options = {}) {
  const c = grpc.credentials.createInsecure();
  const o = { ...CLIENT_OPTS, ...options };
  return {
    xgb: new gen_.xgb.XgboostServiceClient(address, c, o),
    crf: new gen_.crf.CrfServiceClient(address, c, o),
    text: new gen_.text.TextServiceClient(address, c, o),
    model: new gen_.model.ModelServiceClient(address, c, o),
    close() {
      for (const k of ["xgb", "crf", "text", "model"]) this[k].close();
    },
  };
}
export async function importModel(cl, name, kind, bytes, extra = {}) {
  return new Promise((res, rej) => {
    const call = cl.model.importModel((e, r) => (e ? rej(e) : res(r)));
    call.write({ payload: { $case: "header", value: { name, kind, format: 0, classNames: [], failIfExists: false, ...extra } } });
    for (let i = 0; i < bytes.length; i += 1 << 20) call.write({ payload: { $case: "chunk", value: bytes.subarray(i, i + (1 << 20)) } });
    call.end();
  });
}

// ---- server processes -----------------------------------------------------
/** Starts `node packages/server/dist/cli.js serve` in its own process; resolves when the port file appears. */
export async function startServerProcess({ modelDir, cpuProf, extraArgs = [], env = {}, nodeArgs: extraNodeArgs = [] } = {}) {
  const dir = tmpdir("mlbridge-bench-srv-");
  const portFile = path.join(dir, "port");
  const httpPortFile = path.join(dir, "http-port");
  modelDir ??= path.join(dir, "models");
  const nodeArgs = [...extraNodeArgs];
  if (cpuProf) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${path.dirname(cpuProf)}`, `--cpu-prof-name=${path.basename(cpuProf)}`);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      path.join(ROOT, "packages/server/dist/cli.js"),
      "serve",
      "--port",
      "0",
      "--http-port",
      "0",
      "--http-port-file",
      httpPortFile,
      "--host",
      "127.0.0.1",
      "--port-file",
      portFile,
      "--model-dir",
      modelDir,
      "--log-level",
      "warn",
      ...extraArgs,
    ],
    { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } },
  );
  const t0 = Date.now();
  while (!existsSync(portFile) || !readFileSync(portFile, "utf8").trim()) {
    if (child.exitCode != null) throw new Error(`server exited with ${child.exitCode}`);
    if (Date.now() - t0 > 30000) throw new Error("server did not start in 30 s");
    await sleep(50);
  }
  const port = Number(readFileSync(portFile, "utf8").trim());
  const httpPort = existsSync(httpPortFile) ? Number(readFileSync(httpPortFile, "utf8").trim()) : undefined;
  return { port, httpPort, address: `127.0.0.1:${port}`, pid: child.pid, child, stop: () => stopChild(child, dir) };
}
export async function stopChild(child, dir) {
  if (child.exitCode == null) {
    const done = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 10000);
    await done;
    clearTimeout(t);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}
/** Starts a node script (like the empty handler) that prints `PORT <n>` on stdout. */
export async function startNodeScript(script, args = []) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((res, rej) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /PORT (\d+)/.exec(buf);
      if (m) res(Number(m[1]));
    });
    child.once("exit", (c) => rej(new Error(`${script} exited ${c}`)));
  });
  return { port, address: `127.0.0.1:${port}`, pid: child.pid, child, stop: () => stopChild(child) };
}

// ---- load generation ------------------------------------------------------
export const GHZ = path.join(PEERS, "bin/ghz");
export const haveGhz = () => !process.env.BENCH_NO_GHZ && existsSync(GHZ);
/**
 * Runs ghz once. target: { address, call, proto, importPaths, data }.
 * Returns { rps, count, p50_ms, p99_ms, errors }.
 */
export function runGhzAsync(target, { concurrency = 1, seconds, total, rps, connections } = {}) {
  const args = ["--insecure", "--call", target.call, "-d", JSON.stringify(target.data), "-c", String(concurrency), "-O", "json", "--skipFirst", "0"];
  if (target.proto) args.push("--proto", target.proto, ...target.importPaths.flatMap((p) => ["-i", p]));
  if (seconds) args.push("-z", `${seconds}s`, "-n", "100000000");
  else args.push("-n", String(total));
  if (rps) args.push("--rps", String(rps));
  if (connections) args.push("--connections", String(connections));
  args.push(target.address);
  return new Promise((res, rej) => {
    const child = spawn(GHZ, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "",
      err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      try {
        const j = JSON.parse(out);
        const lat = Object.fromEntries((j.latencyDistribution ?? []).map((x) => [x.percentage, x.latency / 1e6]));
        const errors = Object.values(j.statusCodeDistribution ?? {}).reduce((a, b) => a + b, 0) - (j.statusCodeDistribution?.OK ?? 0);
        res({ rps: j.rps, count: j.count, p50_ms: lat[50], p99_ms: lat[99], errors, errorDistribution: j.errorDistribution });
      } catch {
        rej(new Error(`ghz failed (${code}): ${err.slice(0, 500)} ${out.slice(0, 300)}`));
      }
    });
  });
}
/** Node grpc-js closed-loop load (used when ghz is missing): `call()` returns a promise. */
export async function nodeLoad(call, { concurrency = 1, seconds = 1 }) {
  const lat = [];
  let errors = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const s = performance.now();
        try {
          await call();
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const el = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: lat.length / el, count: lat.length, p50_ms: quantile(lat, 0.5), p99_ms: quantile(lat, 0.99), errors };
}

// ---- HTTP load (wrk) ----------------------------------------------------------
export const haveWrk = () => !process.env.BENCH_NO_WRK && spawnSync("wrk", ["--version"]).error === undefined;
/** wrk's time units as milliseconds. */
const wrkMs = (v, unit) => Number(v) * { us: 1e-3, ms: 1, s: 1e3, m: 6e4 }[unit];
/**
 * Runs wrk once (one thread, `concurrency` keep-alive connections, closed loop, whole seconds), POSTing `body` as JSON.
 * Returns { rps, count, p50_ms, p99_ms, errors } (errors: non-2xx responses and socket errors).
 */
export function runWrkAsync(url, body, { concurrency = 1, seconds = 1 } = {}) {
  const script = path.join(tmpdir("mlbridge-bench-wrk-"), "post.lua");
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify(body))}\nwrk.headers["Content-Type"] = "application/json"\n`);
  const args = ["-t1", `-c${concurrency}`, `-d${Math.max(1, Math.round(seconds))}s`, "--latency", "--timeout", "10s", "-s", script, url];
  return new Promise((res, rej) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      rmSync(path.dirname(script), { recursive: true, force: true });
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const count = /(\d+) requests in/.exec(out);
      // wrk pads a unit of one letter (1.02s) with a trailing space.
      const p = (q) => {
        const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
        return m ? wrkMs(m[1], m[2]) : undefined;
      };
      if (code !== 0 || !rps) return rej(new Error(`wrk failed (${code}): ${out.slice(0, 500)}`));
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = (non2xx ? Number(non2xx[1]) : 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
      res({ rps: Number(rps[1]), count: Number(count?.[1] ?? 0), p50_ms: p(50), p99_ms: p(99), errors });
    });
  });
}

// ---- Python peers ---------------------------------------------------------
export function pythonBin() {
  if (process.env.BENCH_NO_PYTHON) return undefined;
  for (const p of [path.join(PEERS, "venv/bin/python"), path.join(ROOT, "clients/python/.venv/bin/python")]) {
    if (!existsSync(p)) continue;
    try {
      execFileSync(p, ["-c", "import xgboost, pycrfsuite, numpy"], { stdio: "ignore" });
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}
/** Runs `bin [...flags] script '<JSON arg>'` and resolves with the JSON of the last line it prints. */
export function runJson(bin, script, arg, flags = []) {
  return new Promise((res, rej) => {
    const child = spawn(bin, [...flags, script, JSON.stringify(arg)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop();
      try {
        if (code !== 0) throw new Error();
        res(JSON.parse(last));
      } catch {
        rej(new Error(`${path.basename(script)} exited ${code}: ${out.slice(-500)}`));
      }
    });
  });
}
/** Runs bench/py/<script> with a JSON argument; the script prints one JSON line last. */
export function runPython(script, arg) {
  const py = pythonBin();
  if (!py) throw new Error("no Python venv with xgboost + python-crfsuite (run bash bench/setup.sh)");
  return runJson(py, path.join(BENCH, "py", script), arg);
}
/** Runs a command of bench/core-peer.mjs: core in a fresh Node process, as each Python peer runs. */
export const runCore = (arg) => runJson(process.execPath, path.join(BENCH, "core-peer.mjs"), arg);

// ---- shared fixtures --------------------------------------------------------
export const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];
/** The iris model trained once in-process by core (preset iris, seed 0), as XGBoost JSON. */
export async function irisModel(dir) {
  const r = await core.fitXgboostCsv(path.join(DATA, "book/iris.csv"), { preset: "iris", seed: 0 });
  const json = r.model.toBuffer("json");
  const file = path.join(dir, "iris.json");
  writeFileSync(file, json);
  const classNames = r.model.classNames;
  return { file, json, classNames, model: r.model, numFeatures: r.model.numFeatures, objective: r.model.objective };
}
export const xgbPredictData = (rowsFlat, rows = 1) => ({ model_name: "iris", matrix: { rows, cols: 4, values: rowsFlat } });
