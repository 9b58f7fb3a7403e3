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

async function startProcess(modelDir: string): Promise<{ proc: ChildProcess; address: string }> {
  const portFile = path.join(modelDir, "..", `port-${Math.random().toString(36).slice(2)}`);
  const proc = spawn(process.execPath, [cli, "serve", "--port", "0", "--model-dir", modelDir, "--port-file", portFile, "--log-level", "warn"], { stdio: "ignore" });
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
          const p = await unary(xgb.predict.bind(xgb), { modelName: m.name, input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } }, output: 0 });
          expect(p.classNames).toEqual(["setosa"]);
        }
        expect(readdirSync(path.join(modelDir, "tmp"))).toEqual([]);
        // Train, and kill the server at a random moment: before, during or after the save.
        const training = bidi(xgb.train(), xgbTrainRequests({ modelName: `m${cycle % 7}`, preset: "iris", seed: cycle }, iris)).then(
          () => completed++,
          () => undefined,
        );
        await new Promise((r) => setTimeout(r, Math.random() * 60));
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
        const after = await unary(h.models.getModel.bind(h.models), { name: "old" });
        expect(after.model!.sha256).toBe(before.model!.sha256);
        const p = await unary(h.xgb.predict.bind(h.xgb), { modelName: "old", input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } }, output: 0 });
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
