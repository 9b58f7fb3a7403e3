#!/usr/bin/env node
// A longer fuzz run than CI's property tests (outside CI): mutates valid CRF
// and XGBoost models (bit flips, byte overwrites, truncations, splices) and CSV
// files, feeds them to the loaders and taggers, and checks that every failure
// is a coded error. Each round runs in a child process, so a crash is caught,
// reported, and its input saved to fuzz-crashes/.
// Usage: node scripts/fuzz.mjs [--minutes 10] [--seed 1]
// Use the sanitizer build for memory errors:
//   MLBRIDGE_NATIVE=.../build/Debug/mlbridge.node LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 node scripts/fuzz.mjs
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { testDataDir } from "./lib/test-data.mjs";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const self = fileURLToPath(import.meta.url);

if (process.env.MLBRIDGE_FUZZ_CHILD) {
  const core = require(path.join(root, "packages/core/dist/index.js"));
  // The project's own data in the book's formats (a plain clone has no ../shared).
  const book = (f) => path.join(testDataDir(), f);
  const seed = Number(process.env.MLBRIDGE_FUZZ_SEED);
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296;
  const mutate = (buf) => {
    const b = Buffer.from(buf);
    const kind = Math.floor(rnd() * 4);
    if (kind === 0) for (let i = 0; i < 1 + rnd() * 8; i++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
    else if (kind === 1) for (let i = 0; i < 1 + rnd() * 4; i++) b.writeUInt32LE(Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * (b.length - 4)));
    else if (kind === 2) return b.subarray(0, Math.floor(rnd() * b.length));
    else {
      const at = Math.floor(rnd() * b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(rnd() * b.length))]);
    }
    return b;
  };
  const ok = new Set(["INVALID_ARGUMENT", "CRFSUITE_ERROR", "XGBOOST_ERROR", "FAILED_PRECONDITION"]);
  const check = (fn) => {
    try {
      fn();
    } catch (err) {
      if (!ok.has(err.code)) throw err;
    }
  };
  const fit = await core.fitCrfCsv(book("ner.csv"), { preset: "book", noHoldout: true, params: { max_iterations: 3 } });
  const xgb = await core.fitXgboostCsv(book("iris.csv"), { preset: "iris" });
  const models = [fit.model.bytes, xgb.model.toBuffer("ubj"), xgb.model.toBuffer("json")];
  const csv = require("node:fs").readFileSync(book("ner.csv")).subarray(0, 20000);
  const items = [
    [
      ["thousand", 1],
      ["of", 0.5],
    ],
    [["of", 1]],
    [
      ["london", 1],
      ["to", 0.5],
    ],
  ];
  process.send({ type: "ready" });
  process.on("message", async ({ round }) => {
    s = (seed * 7919 + round) >>> 0;
    const input = mutate(models[round % 3]);
    process.send({ type: "input", bytes: input.toString("base64"), round });
    if (round % 3 === 0)
      check(() => {
        const m = core.CrfModel.fromBuffer(input);
        m.tag(items, { marginals: true, probability: true });
        m.attributes();
        m.dispose();
      });
    else
      check(() => {
        const m = core.XgbModel.fromBuffer(input);
        m.predict(Float32Array.of(5.1, 3.5, 1.4, 0.2), 1, 4, "probabilities");
        m.dispose();
      });
    try {
      await core.readNerCsv(mutate(csv), core.CRF_PRESETS.book.template, true);
    } catch (err) {
      if (!ok.has(err.code)) throw err;
    }
    process.send({ type: "done", round });
  });
} else {
  const { values } = parseArgs({ options: { minutes: { type: "string", default: "10" }, seed: { type: "string", default: "1" } } });
  const until = Date.now() + Number(values.minutes) * 60_000;
  let round = 0;
  let crashes = 0;
  let lastInput;
  const start = () =>
    new Promise((resolve) => {
      const child = fork(self, [], {
        env: { ...process.env, MLBRIDGE_FUZZ_CHILD: "1", MLBRIDGE_FUZZ_SEED: String(Number(values.seed) + round) },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      child.on("message", (m) => {
        if (m.type === "input") lastInput = m;
        if (m.type === "ready" || m.type === "done") {
          if (Date.now() > until) child.kill();
          else child.send({ round: round++ });
        }
      });
      child.on("exit", (code, signal) => {
        if (Date.now() <= until && (code !== 0 || signal)) {
          crashes++;
          mkdirSync(path.join(root, "fuzz-crashes"), { recursive: true });
          const file = path.join(root, "fuzz-crashes", `round-${lastInput?.round}.bin`);
          if (lastInput) writeFileSync(file, Buffer.from(lastInput.bytes, "base64"));
          console.error(`crash (${signal ?? `exit ${code}`}) at round ${lastInput?.round}; input saved to ${file}`);
        }
        resolve();
      });
    });
  const t0 = Date.now();
  while (Date.now() < until) await start();
  console.log(`fuzz: ${round} rounds (${round} model inputs + ${round} CSV inputs) in ${((Date.now() - t0) / 60000).toFixed(1)} min, ${crashes} crashes`);
  process.exitCode = crashes ? 1 : 0;
}
