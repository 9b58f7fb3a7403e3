/**
 * Sets up and runs the real AWS Lambda Runtime Interface Emulator (RIE) with the
 * Node.js runtime interface client (aws-lambda-ric) for the emulator test.
 *
 * Setup is idempotent and needs nothing installed by hand beyond Go, cmake, a
 * C/C++ toolchain and Python (for node-gyp):
 *  - the RIE is built from the Go module proxy with `go install` into .cache/bin;
 *  - aws-lambda-ric is installed with `npm ci` from emulator/package-lock.json
 *    into .cache/ric (its install builds curl and aws-lambda-cpp: autotools are
 *    installed with apt-get when missing and we are root, as scripts/setup.sh does).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import yauzl from "yauzl";

export const PKG_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CACHE = join(PKG_ROOT, ".cache");

/** The RIE module and the version that the Go module proxy resolves as latest (pseudo-version). */
export const RIE_MODULE = "github.com/aws/aws-lambda-runtime-interface-emulator";
export const RIE_VERSION = process.env.RIE_VERSION ?? "v0.0.0-20261030222936-bef5c4ba774d";

function say(msg: string): void {
  process.stderr.write(`[lambda emulator setup] ${msg}\n`);
}

function which(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-40).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}:\n${out}`);
  }
  say(`${cmd} ${args.join(" ")}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Builds aws-lambda-rie into .cache/bin once per RIE_VERSION; returns its path. */
export function ensureRie(): string {
  const binDir = join(CACHE, "bin");
  const bin = join(binDir, "aws-lambda-rie");
  const stamp = join(binDir, "aws-lambda-rie.version");
  const want = `${RIE_MODULE}@${RIE_VERSION}`;
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === want) return bin;
  if (!which("go")) {
    throw new Error(
      "Go is required to build the AWS Lambda Runtime Interface Emulator for the emulator test, and `go` is not on PATH. " +
        `Install Go (1.22 or newer), then rerun; the test runs: GOFLAGS=-mod=mod GOBIN=${binDir} go install ${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}`,
    );
  }
  mkdirSync(binDir, { recursive: true });
  say(`building ${want} with go install (once)`);
  run("go", ["install", `${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}`], {
    env: { ...process.env, GOBIN: binDir, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
  });
  if (!existsSync(bin)) throw new Error(`go install did not produce ${bin}`);
  writeFileSync(stamp, `${want}\n`);
  return bin;
}

/** Tools that aws-lambda-ric's install scripts need (curl's buildconf, aws-lambda-cpp's cmake, node-gyp). */
function ensureRicBuildTools(): void {
  const apt: string[] = [];
  if (!which("cmake") && !which("cmake3")) apt.push("cmake");
  if (!which("autoconf")) apt.push("autoconf");
  if (!which("automake")) apt.push("automake");
  if (!which("libtoolize")) apt.push("libtool");
  if (!which("make")) apt.push("make");
  if (!which("g++")) apt.push("g++");
  if (!which("python3")) apt.push("python3");
  if (apt.length === 0) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || !which("apt-get")) {
    throw new Error(
      `aws-lambda-ric builds a native part at install and needs: ${apt.join(" ")}. ` +
        `Install them (Debian: apt-get install -y ${apt.join(" ")}), then rerun the emulator test.`,
    );
  }
  say(`installing ${apt.join(" ")} with apt-get (needed to build aws-lambda-ric's native part)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update", "-qq"], { env });
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...apt], { env });
}

/** Installs aws-lambda-ric into .cache/ric (npm ci, pinned by emulator/package-lock.json); returns its bin script. */
export function ensureRic(): string {
  const dir = join(CACHE, "ric");
  const srcDir = join(PKG_ROOT, "emulator");
  const entry = join(dir, "node_modules", "aws-lambda-ric", "bin", "index.mjs");
  const addon = join(dir, "node_modules", "aws-lambda-ric", "dist", "rapid-client.node");
  const stamp = join(dir, ".installed");
  const want = createHash("sha256")
    .update(readFileSync(join(srcDir, "package.json")))
    .update(readFileSync(join(srcDir, "package-lock.json")))
    .update(`${process.execPath} ${process.version} ${process.versions.modules} ${process.arch}`)
    .digest("hex");
  if (existsSync(entry) && existsSync(addon) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === want) return entry;
  ensureRicBuildTools();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(srcDir, "package.json"), join(dir, "package.json"));
  copyFileSync(join(srcDir, "package-lock.json"), join(dir, "package-lock.json"));
  say("installing aws-lambda-ric with npm ci (builds curl and aws-lambda-cpp: about 1.5 min on 2 cores, once)");
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir });
  if (!existsSync(addon)) throw new Error(`aws-lambda-ric installed without its native part (${addon} is missing)`);
  writeFileSync(stamp, `${want}\n`);
  return entry;
}

/** The names and contents of the entries of a zip file. */
export function readZip(path: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error("cannot open zip"));
      const out = new Map<string, Buffer>();
      zip.on("error", reject);
      zip.on("end", () => resolve(out));
      zip.on("entry", (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error("cannot read entry"));
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", reject);
          stream.on("end", () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Unzips the deployment package into a new temporary directory (the function's LAMBDA_TASK_ROOT). */
export async function unzipToTemp(zipPath: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "mlbridge-lambda-task-"));
  for (const [name, data] of await readZip(zipPath)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  return dir;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** A running emulator with the function loaded. */
export interface Emulator {
  port: number;
  /** Everything the RIE and the function wrote (stdout and stderr), so far. */
  log(): string;
  /** POSTs a payload to the invoke endpoint; returns the HTTP status, body text and wall time. */
  invoke(payload: unknown): Promise<{ status: number; body: string; wallMs: number }>;
  /** Waits until the log has at least `n` REPORT lines; returns them. */
  reports(n: number, timeoutMs?: number): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Starts `aws-lambda-rie` with the runtime interface client as the bootstrap
 * (`node <ric>/bin/index.mjs index.handler`), in `taskRoot`, on free loopback ports.
 */
export async function startEmulator(opts: {
  rie: string;
  ric: string;
  taskRoot: string;
  handler?: string;
  memoryMb?: number;
  timeoutS?: number;
}): Promise<Emulator> {
  const port = await freePort();
  let apiPort = await freePort();
  while (apiPort === port) apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: "C.UTF-8",
    TZ: "UTC",
    LAMBDA_TASK_ROOT: opts.taskRoot,
    AWS_LAMBDA_FUNCTION_NAME: "mlbridge-wordcount",
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(opts.memoryMb ?? 256),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(opts.timeoutS ?? 10),
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    NODE_OPTIONS: "",
  };
  let out = "";
  const child: ChildProcess = spawn(
    opts.rie,
    [
      "--runtime-interface-emulator-address",
      `127.0.0.1:${port}`,
      "--runtime-api-address",
      `127.0.0.1:${apiPort}`,
      process.execPath,
      opts.ric,
      opts.handler ?? "index.handler",
    ],
    { cwd: opts.taskRoot, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (out += d));
  let exited = false;
  const exitedP = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );

  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`aws-lambda-rie exited at start:\n${out}`);
    if (Date.now() > deadline) throw new Error(`aws-lambda-rie did not listen on 127.0.0.1:${port} within 15 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const reportLines = () => out.split("\n").filter((l) => l.startsWith("REPORT RequestId:"));
  return {
    port,
    log: () => out,
    async invoke(payload) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: typeof payload === "string" ? payload : JSON.stringify(payload),
      });
      const body = await res.text();
      return { status: res.status, body, wallMs: performance.now() - t0 };
    },
    async reports(n, timeoutMs = 5_000) {
      const end = Date.now() + timeoutMs;
      while (reportLines().length < n) {
        if (Date.now() > end) throw new Error(`expected ${n} REPORT lines, have ${reportLines().length}:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return reportLines();
    },
    async stop() {
      if (exited || child.pid === undefined) return;
      // The RIE and the runtime it started are in the process group we created (detached).
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 3_000);
      await exitedP;
      clearTimeout(timer);
    },
  };
}

/** The numbers of a REPORT line (milliseconds), and the RIE's `INIT REPORT(durationMs: ...)`. */
export function parseReport(line: string): { requestId: string; durationMs: number; initDurationMs?: number; billedMs?: number } {
  const requestId = /RequestId: (\S+)/.exec(line)?.[1] ?? "";
  const durationMs = Number(/\tDuration: ([\d.]+) ms/.exec(line)?.[1] ?? /Duration: ([\d.]+) ms/.exec(line)?.[1]);
  const init = /Init Duration: ([\d.]+) ms/.exec(line)?.[1];
  const billed = /Billed Duration: ([\d.]+) ms/.exec(line)?.[1];
  return { requestId, durationMs, initDurationMs: init ? Number(init) : undefined, billedMs: billed ? Number(billed) : undefined };
}

/**
 * The init phase's duration: the RIE's `INIT REPORT(durationMs: ...)` after a
 * successful `INIT RTDONE` (start of the runtime process to its first
 * `/next`: Node's start, the runtime client, loading the handler). The REPORT
 * line's `Init Duration` is not that in the RIE: it reports a near-zero
 * invoke-phase init, and the first invocation's `Duration` includes the init.
 */
export function parseInitReport(log: string): number | undefined {
  const m = /INIT RTDONE\(status: success\)[\s\S]*?INIT REPORT\(durationMs: ([\d.]+)\)/.exec(log);
  return m ? Number(m[1]) : undefined;
}
