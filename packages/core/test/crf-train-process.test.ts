/**
 * The CRF training processes: the spare process started ahead (reused, replaced,
 * never keeping anyone alive, gone with its parent), their CPU priority,
 * cancellation and crash isolation on a spare, and the model's temp folder.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CRF_PRESETS,
  configureCrfTraining,
  crfTrainingProcesses,
  crfTrainingSettings,
  disposeCrfTraining,
  prewarmCrfTraining,
  readNerCsv,
  trainCrf,
  type CrfSequence,
} from "../src";
import { dataFile } from "./data";

/** Whether a process runs (an exited one not yet reaped by its new parent counts as gone). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Nice value of every thread of a process (Linux: field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}

// This file's subject is the training processes' priority: it runs with the library's own default
// (nice +19), not the suites' MLBRIDGE_TRAIN_NICE=0 (vitest.shared.mts). Read on first use, after this.
delete process.env.MLBRIDGE_TRAIN_NICE;

let sequences: CrfSequence[];
const tmp = mkdtempSync(path.join(os.tmpdir(), "mlbridge-crf-test-"));
const savedTmp = process.env.TMPDIR;

beforeAll(async () => {
  sequences = (await readNerCsv(dataFile("ner.csv"), CRF_PRESETS.book.template, true)).sequences;
  // the models' temp folders go here, so the test can see that none is left
  process.env.TMPDIR = tmp;
});
afterEach(() => {
  configureCrfTraining({ nice: 19, warmProcess: true });
});
afterAll(() => {
  disposeCrfTraining();
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  rmSync(tmp, { recursive: true, force: true });
});

describe("CRF training processes: the spare started ahead", () => {
  it("is used by the next training, then replaced by a new one, and the used one exits", async () => {
    expect(crfTrainingSettings()).toEqual({ nice: 19, warmProcess: true, threads: Math.min(64, os.availableParallelism()) });
    prewarmCrfTraining();
    const spare = crfTrainingProcesses().spare!;
    expect(spare).toBeGreaterThan(0);
    prewarmCrfTraining(); // idempotent
    expect(crfTrainingProcesses().spare).toBe(spare);

    const r = await trainCrf(sequences.slice(0, 100), { algorithm: "lbfgs", params: { max_iterations: 5 } });
    expect(r.pid).toBe(spare);
    expect(r.model.length).toBeGreaterThan(100);
    const next = crfTrainingProcesses().spare!;
    expect(next).toBeGreaterThan(0);
    expect(next).not.toBe(spare);
    await waitFor(() => !alive(spare));

    const r2 = await trainCrf(sequences.slice(0, 100), { algorithm: "lbfgs", params: { max_iterations: 5 } });
    expect(r2.pid).toBe(next);
    expect(r2.model.equals(r.model)).toBe(true); // same data, same model, whichever process
    await waitFor(() => readdirSync(tmp).length === 0); // the model's temp folder is removed
  });

  it("is not used by a training asking for another priority, and stays", async () => {
    prewarmCrfTraining();
    const spare = crfTrainingProcesses().spare!;
    const r = await trainCrf(sequences.slice(0, 50), { algorithm: "lbfgs", params: { max_iterations: 2 }, nice: 0 });
    expect(r.pid).not.toBe(spare);
    expect(crfTrainingProcesses().spare).toBe(spare);
  });

  it("is not kept when warmProcess is off", async () => {
    prewarmCrfTraining();
    const spare = crfTrainingProcesses().spare!;
    configureCrfTraining({ warmProcess: false });
    expect(crfTrainingProcesses().spare).toBeUndefined();
    await waitFor(() => !alive(spare));
    const r = await trainCrf(sequences.slice(0, 50), { algorithm: "lbfgs", params: { max_iterations: 2 } });
    expect(r.pid).toBeGreaterThan(0);
    await waitFor(() => crfTrainingProcesses().training.length === 0); // the used process exits
    expect(crfTrainingProcesses().spare).toBeUndefined();
    expect(alive(r.pid)).toBe(false);
  });

  it("cancels a training on the spare: CANCELLED, the process is killed, its temp folder removed", async () => {
    prewarmCrfTraining();
    const spare = crfTrainingProcesses().spare!;
    const ac = new AbortController();
    let iterations = 0;
    const p = trainCrf(sequences, {
      algorithm: "lbfgs",
      params: { max_iterations: 1000 },
      signal: ac.signal,
      onProgress: () => {
        if (++iterations === 3) {
          expect(crfTrainingProcesses().training).toContain(spare);
          // its replacement starts when the training ends, not beside it
          expect(crfTrainingProcesses().spare).toBeUndefined();
          ac.abort();
        }
      },
    });
    await expect(p).rejects.toMatchObject({ code: "CANCELLED" });
    expect(iterations).toBeLessThan(50);
    await waitFor(() => !alive(spare));
    await waitFor(() => readdirSync(tmp).length === 0);
    expect(crfTrainingProcesses().training).toEqual([]);
  });

  it("isolates a crash of the training process: INTERNAL, and the next training works", async () => {
    prewarmCrfTraining();
    const spare = crfTrainingProcesses().spare!;
    let killed = false;
    const p = trainCrf(sequences, {
      algorithm: "lbfgs",
      params: { max_iterations: 1000 },
      onProgress: () => {
        if (!killed) {
          killed = true;
          process.kill(spare, "SIGSEGV");
        }
      },
    });
    await expect(p).rejects.toMatchObject({ code: "INTERNAL", message: expect.stringMatching(/exited unexpectedly \(SIGSEGV\)/) });
    const r = await trainCrf(sequences.slice(0, 50), { algorithm: "lbfgs", params: { max_iterations: 2 } });
    expect(r.model.length).toBeGreaterThan(100);
    await waitFor(() => readdirSync(tmp).length === 0);
  });

  const script = (body: string) => `const core = require(${JSON.stringify(path.resolve(__dirname, "../dist/index.js"))});\n${body}`;
  /** Runs a script that starts a spare and prints its pid; resolves with the child and that pid. */
  async function parentWithSpare(body: string) {
    const child = spawn(process.execPath, ["-e", script(`core.prewarmCrfTraining(); console.log(String(core.crfTrainingProcesses().spare)); ${body}`)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise((r) => child.on("exit", r));
    await waitFor(() => out.includes("\n") || child.exitCode !== null);
    const spare = Number(out.trim());
    if (!(spare > 0)) {
      child.kill("SIGKILL"); // never leave the script (and a spare) behind
      throw new Error(`no spare pid from the script: stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`);
    }
    return { child, spare, exited };
  }

  it("never keeps its parent alive, and exits with it", async () => {
    const { spare, exited } = await parentWithSpare("");
    expect(await exited).toBe(0);
    await waitFor(() => !alive(spare));
  });

  it("exits when its parent is killed (SIGKILL: no exit handler runs)", async () => {
    const { child, spare } = await parentWithSpare("setInterval(() => {}, 1000);");
    try {
      expect(alive(spare)).toBe(true);
    } finally {
      child.kill("SIGKILL");
    }
    await waitFor(() => !alive(spare));
  });
});

describe.skipIf(process.platform !== "linux")("CRF training processes: CPU priority", () => {
  const own = os.getPriority();

  async function nicesDuringTraining(nice?: number): Promise<number[]> {
    let seen: number[] = [];
    const ac = new AbortController();
    await trainCrf(sequences, {
      algorithm: "lbfgs",
      params: { max_iterations: 1000 },
      nice,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.iteration === 2) {
          const [pid] = crfTrainingProcesses().training;
          seen = threadNices(pid);
          ac.abort();
        }
      },
    }).catch((err: { code?: string }) => {
      if (err.code !== "CANCELLED") throw err;
    });
    return seen;
  }

  it("runs every thread of the training process (and the spare) at the configured nice, 19 by default", async () => {
    prewarmCrfTraining();
    await waitFor(() => threadNices(crfTrainingProcesses().spare!).length > 1);
    const target = Math.min(19, own + 19);
    const nices = await nicesDuringTraining();
    expect(nices.length).toBeGreaterThan(1);
    expect(nices.every((n) => n === target)).toBe(true);
    const spare = crfTrainingProcesses().spare!;
    await waitFor(() => threadNices(spare).every((n) => n === target));
  });

  it("honours a per-call and a configured nice; 0 keeps the caller's priority", async () => {
    expect((await nicesDuringTraining(0)).every((n) => n === own)).toBe(true);
    configureCrfTraining({ nice: 5 });
    expect((await nicesDuringTraining()).every((n) => n === Math.min(19, own + 5))).toBe(true);
  });

  it("takes its default from MLBRIDGE_TRAIN_NICE; a bad value fails the training, not the import", async () => {
    const run = (value: string, body: string) =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ["-e", `const core = require(${JSON.stringify(path.resolve(__dirname, "../dist/index.js"))});\n${body}`], {
          stdio: ["ignore", "pipe", "inherit"],
          env: { ...process.env, MLBRIDGE_TRAIN_NICE: value },
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("exit", () => resolve(out.trim()));
      });
    expect(await run("3", "console.log(String(core.crfTrainingSettings().nice))")).toBe("3");
    expect(
      await run("lots", `core.trainCrf([{ items: [[["a", 1]]], labels: ["O"] }], { algorithm: "lbfgs" }).catch((e) => console.log(e.code, e.message))`),
    ).toMatch(/^INVALID_ARGUMENT MLBRIDGE_TRAIN_NICE: expected an integer in \[0, 19\]/);
  });

  it("rejects a nice outside 0–19", async () => {
    await expect(trainCrf(sequences.slice(0, 5), { algorithm: "lbfgs", nice: 25 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/nice: expected an integer in \[0, 19\]/),
    });
    expect(() => configureCrfTraining({ nice: -1 })).toThrowError(/nice: expected an integer in \[0, 19\]/);
  });
});

describe("CRF training: items are checked before any process is used", () => {
  it("names the bad attribute", async () => {
    const bad: CrfSequence[] = [{ items: [[["a", 1]], [["b", Number.NaN]]], labels: ["O", "O"] }];
    await expect(trainCrf(bad, { algorithm: "lbfgs" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(
        /sequences\[0\]\.items\[1\]\[0\]: expected a \[name, weight\] attribute: a non-empty string without NUL and a finite number/,
      ),
    });
  });
});
