/**
 * Durability: the server is killed with SIGKILL at random moments during
 * train-and-save cycles; after every restart each listed model loads, its
 * checksum matches, and no temporary files are left. Then a full disk: the
 * model directory on a small tmpfs, filled up.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { ModelServiceClient } from "../src/generated/mlbridge/v1/model_service";
import { XgboostServiceClient } from "../src/generated/mlbridge/v1/xgboost_service";
import { bidi, dataFile, crfTrainRequests, expectStatus, startHarness, unary, xgbTrainRequests } from "./helpers";

const cli = path.resolve(__dirname, "../dist/cli.js");
const iris = readFileSync(dataFile("iris.csv"));
const ner = readFileSync(dataFile("ner.csv"));

/** The store errors counter for `operation`, scraped from the server's /metrics. */
async function storeErrors(httpPort: number | undefined, operation: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = new RegExp(`^mlbridge_store_errors_total\\{operation="${operation}"\\} (\\d+)$`, "m").exec(text);
  if (!m) throw new Error(`no mlbridge_store_errors_total{operation="${operation}"} in /metrics`);
  return Number(m[1]);
}

async function startProcess(modelDir: string): Promise<{ proc: ChildProcess; address: string }> {
  const portFile = path.join(modelDir, "..", `port-${Math.random().toString(36).slice(2)}`);
  const proc = spawn(
    process.execPath,
    [cli, "serve", "--port", "0", "--http-port", "0", "--model-dir", modelDir, "--port-file", portFile, "--log-level", "warn"],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 20_000;
  while (!existsSync(portFile) || !readFileSync(portFile, "utf8").trim()) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error("server did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = readFileSync(portFile, "utf8").trim();
  rmSync(portFile);
  return { proc, address: `127.0.0.1:${port}` };
}

async function exportSha(models: ModelServiceClient, name: string): Promise<string> {
  const hash = createHash("sha256");
  await new Promise<void>((resolve, reject) => {
    const call = models.exportModel({ name, format: 0 });
    call.on("data", (m: { chunk: Buffer }) => hash.update(m.chunk));
    call.on("error", reject);
    call.on("end", () => resolve());
  });
  return hash.digest("hex");
}

describe("crash consistency", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "mlbridge-crash-"));
  const modelDir = path.join(root, "models");
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("survives SIGKILL at random moments in 100 train-and-save cycles", async () => {
    let completed = 0;
    let maxSeen = 0;
    for (let cycle = 0; cycle < 100; cycle++) {
      const { proc, address } = await startProcess(modelDir);
      const models = new ModelServiceClient(address, credentials.createInsecure());
      const xgb = new XgboostServiceClient(address, credentials.createInsecure());
      try {
        // Every listed model loads and matches its checksum; no temporary files.
        const list = await unary(models.listModels.bind(models), { kind: 0 });
        maxSeen = Math.max(maxSeen, list.models.length);
        for (const m of list.models) {
          expect(await exportSha(models, m.name)).toBe(m.sha256);
          const p = await unary(xgb.predict.bind(xgb), {
            modelName: m.name,
            input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } },
            output: 0,
          });
          expect(p.classNames).toEqual(["setosa"]);
        }
        expect(readdirSync(path.join(modelDir, "tmp"))).toEqual([]);
        // Train, and kill the server at a random moment: before, during or after the save.
        const training = bidi(xgb.train(), xgbTrainRequests({ modelName: `m${cycle % 7}`, preset: "iris", seed: cycle }, iris)).then(
          () => completed++,
          () => undefined,
        );
        // An iris training takes ~50-150 ms here (its own training process): kill anywhere in 0-300 ms.
        await new Promise((r) => setTimeout(r, Math.random() * 300));
        proc.kill("SIGKILL");
        await training;
        if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once("exit", r));
      } finally {
        models.close();
        xgb.close();
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
    }
    expect(completed).toBeGreaterThan(0); // some trainings finished before the kill...
    expect(completed).toBeLessThan(100); // ...and some were cut short
    expect(maxSeen).toBeGreaterThan(0);
  }, 600_000);
});

describe("one server per model folder", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "mlbridge-lock-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** `mlbridge serve` on `modelDir` that is expected to exit at once: its exit code and stderr. */
  const refusedStart = (modelDir: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [cli, "serve", "--port", "0", "--http-port", "0", "--model-dir", modelDir, "--log-level", "warn"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      proc.stderr!.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000); // a server that started anyway: fail below, never hang
      proc.once("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });

  it("a second server on the same folder exits at start naming the folder and the holder's pid; the first keeps serving", async () => {
    const modelDir = path.join(root, "a");
    const first = await startProcess(modelDir);
    try {
      const second = await refusedStart(modelDir);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`the model store ${modelDir} is in use by another mlbridge server (pid ${first.proc.pid})`);
      // In one process too: the lock is per open file, not per process.
      await expectStatus(startHarness([], { modelDir }), status.FAILED_PRECONDITION, `pid ${first.proc.pid}`);
      const xgb = new XgboostServiceClient(first.address, credentials.createInsecure());
      await bidi(xgb.train(), xgbTrainRequests({ modelName: "still-here", preset: "iris" }, iris));
      xgb.close();
    } finally {
      first.proc.kill("SIGTERM");
      await new Promise((r) => first.proc.once("exit", r));
    }
    // Released at exit: the folder opens again, with the model.
    const h = await startHarness([], { modelDir });
    expect((await unary(h.models.listModels.bind(h.models), { kind: 0 })).models.map((m) => m.name)).toEqual(["still-here"]);
    await h.close(true);
  });

  it("the lock dies with its holder: after SIGKILL the folder opens at once", async () => {
    const modelDir = path.join(root, "b");
    const first = await startProcess(modelDir);
    first.proc.kill("SIGKILL");
    await new Promise((r) => first.proc.once("exit", r));
    const h = await startHarness([], { modelDir });
    await h.close(true);
  });

  it("churn: 12 servers started on a folder while another trains in a loop lose nothing", async () => {
    // The reproduction of the data loss: each second server used to delete, at
    // start, every blob its own index did not know (models saved meanwhile).
    const modelDir = path.join(root, "churn");
    const { proc, address } = await startProcess(modelDir);
    const xgb = new XgboostServiceClient(address, credentials.createInsecure());
    const trained: string[] = [];
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop && i < 500; i++) {
        await bidi(xgb.train(), xgbTrainRequests({ modelName: `churn-${i}`, preset: "iris", seed: i }, iris));
        trained.push(`churn-${i}`);
      }
    })();
    try {
      for (let i = 0; i < 12; i++) {
        const r = await refusedStart(modelDir);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("is in use by another mlbridge server");
      }
    } finally {
      stop = true;
      await loop;
      xgb.close();
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
    expect(trained.length).toBeGreaterThan(0);
    // Restarted: every model trained is listed, loads and matches its checksum.
    const again = await startProcess(modelDir);
    const models = new ModelServiceClient(again.address, credentials.createInsecure());
    try {
      const list = await unary(models.listModels.bind(models), { kind: 0 });
      expect(list.models.map((m) => m.name).sort()).toEqual([...trained].sort());
      for (const m of list.models) expect(await exportSha(models, m.name)).toBe(m.sha256);
    } finally {
      models.close();
      again.proc.kill("SIGTERM");
      await new Promise((r) => again.proc.once("exit", r));
    }
  }, 120_000);

  it("a model whose blob vanished answers DATA_LOSS naming the model, never a server path", async () => {
    const modelDir = path.join(root, "vanish");
    const h = await startHarness([], { modelDir });
    try {
      await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "gone", preset: "iris" }, iris));
      const { model } = await unary(h.models.getModel.bind(h.models), { name: "gone" });
      rmSync(path.join(modelDir, "blobs", model!.sha256));
      expect(await storeErrors(h.server.httpPort, "read")).toBe(0);
      const err = await expectStatus(exportSha(h.models, "gone"), status.DATA_LOSS, "model 'gone' is missing its stored bytes");
      expect(err.details).not.toContain(modelDir);
      expect(await storeErrors(h.server.httpPort, "read")).toBe(1); // the operator sees it too
    } finally {
      await h.close();
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("full disk (tmpfs; needs root)", () => {
  it("training on a full store reports RESOURCE_EXHAUSTED and older models stay intact", async () => {
    const mnt = mkdtempSync(path.join(os.tmpdir(), "mlbridge-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      const h = await startHarness([], { modelDir: path.join(mnt, "store") });
      try {
        await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "old", preset: "iris" }, iris));
        const before = await unary(h.models.getModel.bind(h.models), { name: "old" });
        // Fill the disk, leaving a few KiB.
        mkdirSync(path.join(mnt, "fill"));
        for (let i = 0; ; i++) {
          try {
            writeFileSync(path.join(mnt, "fill", String(i)), Buffer.alloc(16 * 1024));
          } catch {
            break;
          }
        }
        await expectStatus(
          bidi(h.crf.train(), crfTrainRequests({ modelName: "new", featurePreset: "book", parameters: { max_iterations: "3" } }, ner)),
          status.RESOURCE_EXHAUSTED,
          "model store is full",
        );
        expect(await storeErrors(h.server.httpPort, "write")).toBe(1);
        const after = await unary(h.models.getModel.bind(h.models), { name: "old" });
        expect(after.model!.sha256).toBe(before.model!.sha256);
        const p = await unary(h.xgb.predict.bind(h.xgb), {
          modelName: "old",
          input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } },
          output: 0,
        });
        expect(p.classNames).toEqual(["setosa"]);
        expect(readdirSync(path.join(mnt, "store", "tmp"))).toEqual([]);
        await expectStatus(unary(h.models.getModel.bind(h.models), { name: "new" }), status.NOT_FOUND, "not found");
        // Space again: training works again.
        rmSync(path.join(mnt, "fill"), { recursive: true });
        const events = await bidi(h.crf.train(), crfTrainRequests({ modelName: "new", featurePreset: "book", parameters: { max_iterations: "3" } }, ner));
        expect(events.at(-1)!.event!.$case).toBe("report");
      } finally {
        await h.close(true);
      }
    } finally {
      execFileSync("umount", [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  }, 120_000);
});
