/** Observability (metrics, logs) and process lifecycle (graceful shutdown, CLI errors). */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { TextServiceClient } from "../src/generated/mlbridge/v1/text_service";
import { bidi, captureLog, crfTrainRequests, dataFile, startHarness, unary, type Harness } from "./helpers";

const cli = path.resolve(__dirname, "../dist/cli.js");
const repoRoot = path.resolve(__dirname, "../../..");
/** The command a user runs after `npm run build`: npm's link to the server's bin, executed (not `node cli.js`). */
const bin = path.join(repoRoot, "node_modules", ".bin", "mlbridge");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe("Prometheus metrics", () => {
  it("exposes per-method latency, trainings in progress and models loaded", async () => {
    const port = await freePort();
    const h = await startHarness(["--metrics-port", String(port)]);
    try {
      await unary(h.text.countWords.bind(h.text), { text: "a b" });
      await unary(h.text.countWords.bind(h.text), { text: "" }).catch(() => undefined);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/mlbridge_rpc_duration_seconds_count\{method="\/mlbridge\.v1\.TextService\/CountWords",code="OK"\} 1/);
      expect(text).toMatch(/mlbridge_rpc_duration_seconds_count\{method="\/mlbridge\.v1\.TextService\/CountWords",code="INVALID_ARGUMENT"\} 1/);
      expect(text).toMatch(/mlbridge_trainings_in_progress 0/);
      expect(text).toMatch(/mlbridge_models_loaded 0/);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await h.close();
    }
  });
});

describe("calls that end without a status of ours", () => {
  it("a cancelled call and one past its deadline are logged and counted", async () => {
    const port = await freePort();
    const { log, entries } = captureLog();
    const h = await startHarness(["--metrics-port", String(port)], { log });
    try {
      const large = readFileSync(dataFile("ner_large.csv"));
      const slow = () => crfTrainRequests({ modelName: "slow", parameters: { max_iterations: "10000" } }, large, 1 << 20);
      // Cancelled by the client.
      const cancelled = h.crf.train();
      cancelled.on("error", () => undefined);
      cancelled.on("data", () => undefined);
      for (const r of slow()) cancelled.write(r);
      cancelled.end();
      while (h.server.context.trainings.active === 0) await new Promise((r) => setTimeout(r, 20));
      cancelled.cancel();
      // Past its deadline.
      const late = bidi(h.crf.train({ deadline: Date.now() + 1500 }), slow());
      await expect(late).rejects.toMatchObject({ code: 4 });
      for (let i = 0; i < 100 && entries.filter((e) => e.msg === "rpc").length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      const rpcs = entries.filter((e) => e.msg === "rpc" && e.method === "/mlbridge.v1.CrfService/Train");
      expect(rpcs.map((e) => e.status).sort()).toEqual(["CANCELLED", "DEADLINE_EXCEEDED"]);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/mlbridge_rpc_duration_seconds_count\{method="\/mlbridge\.v1\.CrfService\/Train",code="CANCELLED"\} 1/);
      expect(text).toMatch(/mlbridge_rpc_duration_seconds_count\{method="\/mlbridge\.v1\.CrfService\/Train",code="DEADLINE_EXCEEDED"\} 1/);
    } finally {
      await h.close();
    }
  });

  it("a cancel shortly before the server's deadline counts as the deadline: within a fifth of the timeout, 50 ms to 1 s", async () => {
    const { deadlineReached } = await import("../src/calls");
    const now = Date.now();
    const call = (inMs: number) => ({ getDeadline: () => new Date(now + inMs) });
    // A 1.5 s call: a cancel 250 ms before the server's deadline is the client's deadline
    // (its headers were read late), one 400 ms before is the client's own cancel.
    expect(deadlineReached(call(250), now - 1250)).toBe(true);
    expect(deadlineReached(call(400), now - 1100)).toBe(false);
    // Short calls keep 50 ms; long ones at most 1 s; an unknown arrival 50 ms.
    expect(deadlineReached(call(40), now - 60)).toBe(true);
    expect(deadlineReached(call(80), now - 20)).toBe(false);
    expect(deadlineReached(call(1100), now - 60_000)).toBe(false);
    expect(deadlineReached(call(900), now - 60_000)).toBe(true);
    expect(deadlineReached(call(250))).toBe(false);
    expect(deadlineReached({ getDeadline: () => Infinity }, now - 1000)).toBe(false);
  });

  it("warns when it listens beyond this machine without TLS or a token", async () => {
    for (const [host, warned] of [
      ["127.0.0.1", false],
      ["0.0.0.0", true],
    ] as const) {
      const { log, entries } = captureLog();
      const h = await startHarness(["--host", host], { log });
      await h.close();
      const warning = entries.find((e) => e.level === 40 && String(e.msg).startsWith(`listening on ${host}, beyond this machine`));
      expect(!!warning).toBe(warned);
      if (warned) expect(String(warning!.msg)).toContain("without TLS (--tls-cert/--tls-key) or a token (--auth-token)");
    }
  });
});

describe("the mlbridge CLI", () => {
  it("logs JSON lines, serves, and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-cli-"));
    const portFile = path.join(dir, "port");
    const proc = spawn(bin, ["serve", "--port", "0", "--http-port", "0", "--model-dir", path.join(dir, "models"), "--port-file", portFile], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    try {
      for (let i = 0; i < 400 && !(existsSync(portFile) && readFileSync(portFile, "utf8").trim()); i++) await new Promise((r) => setTimeout(r, 25));
      const address = `127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
      const client = new TextServiceClient(address, credentials.createInsecure());
      expect((await unary(client.countWords.bind(client), { text: "x y x" })).counts).toEqual({ x: 2, y: 1 });
      client.close();
      const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
      proc.kill("SIGTERM");
      expect(await exited).toBe(0);
      const lines = out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; port?: number });
      expect(lines.find((l) => l.msg === "mlbridge listening")?.port).toBe(Number(address.split(":")[1]));
      expect(lines.at(-1)!.msg).toBe("mlbridge stopped");
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("npx mlbridge --version prints the version, as installed by the build", () => {
    const version = (JSON.parse(readFileSync(path.resolve(__dirname, "../package.json"), "utf8")) as { version: string }).version;
    const r = spawnSync("npx", ["--no-install", "mlbridge", "--version"], { cwd: repoRoot, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`mlbridge ${version}\n`);
  });

  it("rejects bad flags with exit code 2 and the usage", () => {
    const r = spawnSync(process.execPath, [cli, "serve", "--port", "99999"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--port: expected an integer in \[0, 65535\], got "99999"/);
    expect(r.stderr).toMatch(/Usage: mlbridge serve/);
    const unknown = spawnSync(process.execPath, [cli, "serve", "--colour"], { encoding: "utf8" });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--colour'/);
    const help = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--auth-token TOKEN/);
  });
});

describe("native memory", () => {
  it("--trim-seconds gives freed native memory back periodically, timed in mlbridge_native_heap_trim_seconds; 0 never does", async () => {
    const { loadConfig } = await import("../src/config");
    expect(loadConfig([], {}).trimSeconds).toBe(5);
    expect(loadConfig([], { MLBRIDGE_TRIM_SECONDS: "0" }).trimSeconds).toBe(0);
    expect(() => loadConfig(["--trim-seconds", "-1"], {})).toThrow(/trim-seconds/);
    const trims = async (h: Harness) => {
      const m = await h.server.context.metrics.registry.getSingleMetric("mlbridge_native_heap_trim_seconds")!.get();
      return m.values.find((v) => v.metricName === "mlbridge_native_heap_trim_seconds_count")!.value;
    };
    const [every, never] = [await startHarness(["--trim-seconds", "1"]), await startHarness(["--trim-seconds", "0"])];
    try {
      await new Promise((r) => setTimeout(r, 2300));
      expect(await trims(every)).toBeGreaterThanOrEqual(2);
      expect(await trims(never)).toBe(0);
    } finally {
      await every.close();
      await never.close();
    }
    const after = await trims(every);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await trims(every)).toBe(after); // stopped with the server
  });
});

describe("HTTP/2 flow control window", () => {
  /** What a client connecting to `h` is granted: the per-stream window and the connection's send window. */
  async function granted(h: Harness): Promise<{ stream: number; connection: number }> {
    const session = http2.connect(`http://${h.address}`);
    try {
      await new Promise<void>((resolve, reject) => {
        session.once("remoteSettings", () => resolve());
        session.once("error", reject);
      });
      // A ping's answer comes after every frame the server sent before it (its second SETTINGS, its WINDOW_UPDATE).
      await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
      return { stream: session.remoteSettings.initialWindowSize!, connection: session.state.remoteWindowSize! };
    } finally {
      session.close();
    }
  }

  it("grants every connection and stream --flow-control-window bytes (default 4 MiB); 65535 keeps HTTP/2's own", async () => {
    const { loadConfig, FLOW_CONTROL_WINDOW } = await import("../src/config");
    expect(FLOW_CONTROL_WINDOW).toBe(4 * 1024 * 1024);
    expect(loadConfig([], { MLBRIDGE_FLOW_CONTROL_WINDOW: "1048576" }).flowControlWindow).toBe(1048576);
    expect(() => loadConfig(["--flow-control-window", "1000"], {})).toThrow(/--flow-control-window: expected an integer in \[65535, 2147483647\]/);
    const [wide, narrow, mib] = [
      await startHarness(),
      await startHarness(["--flow-control-window", "65535"]),
      await startHarness(["--flow-control-window", "1048576"]),
    ];
    try {
      expect(await granted(wide)).toEqual({ stream: FLOW_CONTROL_WINDOW, connection: FLOW_CONTROL_WINDOW });
      expect(await granted(narrow)).toEqual({ stream: 65535, connection: 65535 });
      expect(await granted(mib)).toEqual({ stream: 1048576, connection: 1048576 });
      // Calls still flow on the wide window.
      await expect(unary(wide.models.listModels.bind(wide.models), { kind: 0 })).resolves.toBeDefined();
    } finally {
      await Promise.all([wide.close(), narrow.close(), mib.close()]);
    }
  });
});

describe("CRF training processes", () => {
  it("the server starts a spare training process at --train-nice over its own priority (trainings on --train-threads), and stops it on shutdown", async () => {
    const { crfTrainingProcesses, crfTrainingSettings } = await import("@mlbridge/core");
    const { loadConfig } = await import("../src/config");
    expect(() => loadConfig(["--train-nice", "20"], {})).toThrow(/train-nice/);
    expect(loadConfig([], {}).trainNice).toBe(19);
    expect(loadConfig([], { MLBRIDGE_TRAIN_NICE: "4" }).trainNice).toBe(4);
    expect(loadConfig([], {}).trainThreads).toBe(Math.min(64, os.availableParallelism()));
    expect(loadConfig(["--train-threads", "3"], {}).trainThreads).toBe(3);
    expect(loadConfig([], { MLBRIDGE_TRAIN_THREADS: "1" }).trainThreads).toBe(1);
    expect(() => loadConfig(["--train-threads", "0"], {})).toThrow(/--train-threads: expected an integer in \[1, 64\]/);
    const h = await startHarness(["--train-nice", "7", "--train-threads", "1"]);
    let spare: number | undefined;
    try {
      expect(crfTrainingSettings()).toMatchObject({ nice: 7, threads: 1 });
      for (let i = 0; i < 100 && !(spare = crfTrainingProcesses().spare); i++) await new Promise((r) => setTimeout(r, 50));
      expect(spare).toBeDefined();
      expect(os.getPriority(spare!)).toBe(Math.min(19, os.getPriority() + 7));
    } finally {
      await h.close();
    }
    expect(crfTrainingProcesses().spare).toBeUndefined();
  });
});

describe("large inputs are parsed off the event loop", () => {
  it("other calls keep being answered while a 16 MB XGBoost CSV and an 8 MB one-line CRF predict CSV are processed", async () => {
    const h = await startHarness();
    try {
      await bidi(
        h.crf.train(),
        crfTrainRequests({ modelName: "ner", featurePreset: "book", parameters: { max_iterations: "2" }, noHoldout: true }, readFileSync(dataFile("ner.csv"))),
      );
      const rows = ["a,b,c,d,label"];
      for (let i = 0, size = 0; size < 16e6; i++) {
        const r = `${i % 7},${i % 13},${(i % 101) / 3},${i % 5},${i % 3}`;
        rows.push(r);
        size += r.length + 1;
      }
      const csv = Buffer.from(rows.join("\n") + "\n");
      const { xgbTrainRequests } = await import("./helpers");
      const header = xgbTrainRequests({ modelName: "big", parameters: { objective: "multi:softmax", num_class: "3" }, numRounds: 1 }, Buffer.alloc(0))[0];
      const upload = bidi(h.xgb.train(), [
        header,
        ...Array.from({ length: Math.ceil(csv.length / (1 << 20)) }, (_, i) => ({
          payload: { $case: "csvChunk" as const, value: csv.subarray(i << 20, (i + 1) << 20) },
        })),
      ]);
      const nerHeader = readFileSync(dataFile("ner_predict.csv"), "utf8").split("\n")[0];
      const line = unary(h.crf.predict.bind(h.crf), { modelName: "ner", csv: Buffer.concat([Buffer.from(nerHeader + "\n"), Buffer.alloc(8e6, "x,")]) }).catch(
        (e: { code: number; details: string }) => e,
      );
      let done = false;
      const all = Promise.all([upload, line]).finally(() => (done = true));
      // Probe the whole time: the longest wait for an answer. Parsing on the
      // event loop held it for seconds per 16 MB (no timer fired meanwhile).
      let longest = 0;
      let answered = 0;
      while (!done) {
        const t = performance.now();
        await unary(h.text.countWords.bind(h.text), { text: "a b" });
        longest = Math.max(longest, performance.now() - t);
        answered++;
        await new Promise((r) => setTimeout(r, 10));
      }
      const [events, predicted] = await all;
      expect(events.at(-1)!.event!.$case).toBe("report");
      expect(predicted).toMatchObject({ code: 3, details: expect.stringMatching(/^predict CSV line 2: Invalid Record Length: expect 24, got 4000001/) });
      expect(answered).toBeGreaterThan(5);
      expect(longest).toBeLessThan(1000);
    } finally {
      await h.close();
    }
  });
});
