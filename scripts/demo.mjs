#!/usr/bin/env node
// The main job: starts a server on a free port with a temporary model store,
// runs the book's examples through it — the Python CRFSuiteModel training and
// prediction scripts, the Java IrisClassificationXgboost main class, a word
// count over gRPC and through the Lambda bundle — and stops the server.
// Usage: npm run demo [-- --data DIR]   (DIR holds the book's ner.csv,
// ner_predict.csv, iris.csv, predict.csv; default: data the project makes itself)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { testDataDir } from "./lib/test-data.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { data: { type: "string" } } });
const work = mkdtempSync(path.join(os.tmpdir(), "mlbridge-demo-"));
const dataDir = path.join(work, "data");
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s) => console.log(`\n${bold(`== ${s}`)}`);

function fail(message) {
  console.error(`demo: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

function run(cmd, args, opts = {}) {
  console.log(`$ ${[cmd, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts, env: { ...process.env, ...opts.env } });
  if (r.status !== 0) fail(`${cmd} exited with ${r.status ?? r.signal}`);
}

// --- data -------------------------------------------------------------------
// The book's files with --data; else the project's own data in the same
// formats (scripts/make-test-data.mjs: Fisher's iris, seeded synthetic NER).
const src = values.data ? path.resolve(values.data) : testDataDir();
mkdirSync(dataDir);
for (const f of ["ner.csv", "ner_predict.csv", "iris.csv", "predict.csv"]) {
  if (!existsSync(path.join(src, f))) fail(`--data ${src}: ${f} is missing`);
  symlinkSync(path.join(src, f), path.join(dataDir, f));
}
console.log(values.data ? `using the book's files from ${src}` : `using the project's own data from ${path.relative(root, src)}`);

// --- server -----------------------------------------------------------------
step("starting the mlbridge server");
const portFile = path.join(work, "port");
const server = spawn(
  process.execPath,
  [
    path.join(root, "packages/server/dist/cli.js"),
    "serve",
    "--port",
    "0",
    "--http-port",
    "0",
    "--model-dir",
    path.join(work, "models"),
    "--port-file",
    portFile,
  ],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const logs = [];
server.stdout.on("data", (d) => logs.push(d));
const deadline = Date.now() + 30_000;
while (!existsSync(portFile) || readFileSync(portFile, "utf8").trim() === "") {
  if (server.exitCode !== null) fail(`the server exited early:\n${Buffer.concat(logs)}`);
  if (Date.now() > deadline) fail("the server did not start within 30 s");
  await new Promise((r) => setTimeout(r, 50));
}
const address = `127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
console.log(`listening on ${address} (models in ${path.join(work, "models")})`);
const env = { MLBRIDGE_ADDRESS: address };

try {
  // --- Python: the book's two scripts, unchanged -----------------------------
  const python = path.join(root, "clients/python/.venv/bin/python");
  step("Python: examples/python/train.py (CRFSuiteModel.fit on data/ner.csv)");
  run(python, [path.join(root, "examples/python/train.py")], { cwd: work, env });
  step("Python: examples/python/predict.py (CRFSuiteModel.predict on data/ner_predict.csv)");
  run(python, [path.join(root, "examples/python/predict.py")], { cwd: work, env });

  // --- Java: the book's main class -------------------------------------------
  step("Java: IrisClassificationXgboost (fit on data/iris.csv, predict data/predict.csv)");
  const target = path.join(root, "clients/java/target");
  const jar = readdirSync(target).find((f) => f.endsWith("-all.jar"));
  if (!jar) fail(`no runnable jar in ${target}: run npx nx run java-client:build`);
  run("java", ["-cp", path.join(target, jar), "IrisClassificationXgboost"], { cwd: work, env });

  // --- word count over gRPC and through the Lambda bundle --------------------
  const text = "the quick brown fox jumps over the lazy dog the end";
  step("Word count over gRPC (TextService.CountWords, from Python)");
  run(python, ["-c", `from mlbridge import Client; print(Client().text.count_words(${JSON.stringify(text)}))`], { env });
  step("Word count through the Lambda bundle (the book's serverless function)");
  // Run the deployable bundle as Lambda does: a CommonJS index.js on its own
  // (inside packages/lambda, whose package.json says "type": "module", Node would read it as ESM).
  const bundle = path.join(work, "lambda-index.cjs");
  copyFileSync(path.join(root, "packages/lambda/dist/bundle/index.js"), bundle);
  run(process.execPath, [
    "-e",
    `require(${JSON.stringify(bundle)}).handler({ string: ${JSON.stringify(text)} }, { awsRequestId: "demo" }).then((r) => console.log(r))`,
  ]);
} finally {
  step("stopping the server");
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  console.log(`server exited with code ${server.exitCode}`);
  rmSync(work, { recursive: true, force: true });
}
