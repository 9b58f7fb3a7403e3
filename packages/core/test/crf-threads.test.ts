/**
 * L-BFGS CRF training on several threads (native/src/crf_threads.c): the
 * same problem solved (per-iteration loss, holdout accuracy), deterministic per
 * thread count, CRFsuite's own model with one thread; the `threads` parameter's
 * checks and default; cancellation and a thread's failed allocation.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CRF_PRESETS,
  CrfModel,
  configureCrfTraining,
  crfParams,
  crfTrainingProcesses,
  crfTrainingSettings,
  fitCrf,
  packSequences,
  readNerCsv,
  trainCrf,
  type CrfProgress,
  type CrfSequence,
} from "../src";
import { dataFile } from "./data";

let sequences: CrfSequence[];
const cores = (): number => Math.min(64, os.availableParallelism());

beforeAll(async () => {
  sequences = (await readNerCsv(dataFile("ner.csv"), CRF_PRESETS.rich.template, true)).sequences;
});
afterEach(() => {
  configureCrfTraining({ threads: cores() });
});

async function train(threads: number, maxIterations = 40): Promise<{ model: Buffer; losses: number[] }> {
  const losses: number[] = [];
  const r = await trainCrf(sequences, {
    algorithm: "lbfgs",
    params: { max_iterations: maxIterations, threads },
    onProgress: (p: CrfProgress) => losses.push(p.loss!),
  });
  return { model: Buffer.from(r.model), losses };
}

/** Runs `body` in a fresh Node process with `env` added (the training processes inherit it); resolves its stdout. */
const runWithEnv = (env: Record<string, string>, body: string) =>
  new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ["-e", `const core = require(${JSON.stringify(path.resolve(__dirname, "../dist/index.js"))});\n${body}`], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...env },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", () => resolve(out.trim()));
  });

describe("CRF tagging from several calls at once", () => {
  it("gives each call a tagger of its own: concurrent batches off the event loop return what one call at a time does", async () => {
    const model = CrfModel.fromBuffer((await train(1, 20)).model);
    const packed = packSequences(sequences.map((s) => s.items));
    const options = { probability: true, marginals: true };
    const alone = await model.tagPacked(packed, options);
    expect(alone.paths.length).toBeGreaterThan(2048); // a batch this size is tagged off the event loop
    const together = await Promise.all(Array.from({ length: 6 }, () => model.tagPacked(packed, options)));
    for (const r of together) {
      expect(Buffer.from(r.paths.buffer).equals(Buffer.from(alone.paths.buffer))).toBe(true);
      expect(Buffer.from(r.probabilities!.buffer).equals(Buffer.from(alone.probabilities!.buffer))).toBe(true);
      expect(Buffer.from(r.marginals!.buffer).equals(Buffer.from(alone.marginals!.buffer))).toBe(true);
    }
    // and a call on the event loop meanwhile uses yet another tagger
    const pending = model.tagPacked(packed, options);
    expect(model.tag(sequences[0].items).labels).toEqual(model.tag(sequences[0].items).labels);
    expect(Buffer.from((await pending).paths.buffer).equals(Buffer.from(alone.paths.buffer))).toBe(true);
  });
});

describe("CRF training on several threads", () => {
  it("solves the same problem: every iteration's loss within 1e-9 of one thread's, deterministic for a thread count", async () => {
    const one = await train(1);
    const two = await train(2);
    const twoAgain = await train(2);
    expect(one.losses.length).toBeGreaterThan(10);
    expect(two.losses.length).toBe(one.losses.length);
    one.losses.forEach((loss, i) => {
      // CRFsuite logs the loss with 6 decimals (%f): 1e-6 is the print's resolution.
      expect(Math.abs(two.losses[i] - loss), `iteration ${i + 1}`).toBeLessThanOrEqual(1e-9 * Math.abs(loss) + 1e-6);
    });
    // Deterministic for a given count...
    expect(twoAgain.model.equals(two.model)).toBe(true);
    // ...and really computed apart: the partial sums are added in another order, which moves the last bits.
    expect(two.model.equals(one.model)).toBe(false);
  });

  it("scores the holdout within 0.1 point of one thread's", async () => {
    const fit = (threads: number) =>
      fitCrf(sequences, { algorithm: "lbfgs", params: { max_iterations: 60, threads }, testFraction: 0.2, seed: 7 }).then((r) => r.metrics!.tokenAccuracy);
    const [one, two] = [await fit(1), await fit(2)];
    expect(one).toBeGreaterThan(0.8);
    expect(Math.abs(two - one) * 100).toBeLessThanOrEqual(0.1);
  });

  it("defaults to the configured count (the cores available unless set); only L-BFGS offers it", async () => {
    expect(crfTrainingSettings().threads).toBe(cores());
    const lbfgs = crfParams("lbfgs").find((p) => p.name === "threads");
    expect(lbfgs).toMatchObject({ type: "int", default: String(cores()) });
    configureCrfTraining({ threads: 3 });
    expect(crfParams("lbfgs").find((p) => p.name === "threads")?.default).toBe("3");
    for (const algorithm of ["l2sgd", "ap", "pa", "arow"] as const) {
      expect(crfParams(algorithm).map((p) => p.name)).not.toContain("threads");
      await expect(trainCrf(sequences.slice(0, 5), { algorithm, params: { threads: 2 } })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(/^parameters\.threads: unknown parameter of/),
      });
    }
    expect(await runWithEnv({ MLBRIDGE_TRAIN_THREADS: "5" }, "console.log(String(core.crfTrainingSettings().threads))")).toBe("5");
  });

  it("refuses a thread count outside 1–64, naming the parameter", async () => {
    for (const bad of [0, 65, -1, "two", 1.5]) {
      await expect(trainCrf(sequences.slice(0, 5), { algorithm: "lbfgs", params: { threads: bad } })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(/^parameters\.threads: /),
      });
    }
    expect(() => configureCrfTraining({ threads: 0 })).toThrowError(/threads: expected an integer in \[1, 64\]/);
    expect(
      await runWithEnv(
        { MLBRIDGE_TRAIN_THREADS: "100" },
        `core.trainCrf([{ items: [[["a", 1]]], labels: ["O"] }], { algorithm: "lbfgs" }).catch((e) => console.log(e.code + " " + e.message))`,
      ),
    ).toMatch(/^INVALID_ARGUMENT MLBRIDGE_TRAIN_THREADS: expected an integer in \[1, 64\]/);
  });

  it("is cancelled mid-iteration: CANCELLED, the training process (every thread) is gone", async () => {
    const ac = new AbortController();
    let pid = 0;
    let iterations = 0;
    const p = trainCrf(sequences, {
      algorithm: "lbfgs",
      params: { max_iterations: 1000, threads: 2 },
      signal: ac.signal,
      onProgress: () => {
        if (++iterations === 2) {
          pid = crfTrainingProcesses().training[0];
          ac.abort();
        }
      },
    });
    await expect(p).rejects.toMatchObject({ code: "CANCELLED" });
    expect(pid).toBeGreaterThan(0);
    const t0 = Date.now();
    const gone = () => {
      try {
        process.kill(pid, 0);
        return readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
      } catch {
        return true;
      }
    };
    while (!gone() && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    expect(gone()).toBe(true);
  });

  it("fails cleanly when a thread's buffers cannot be allocated (no model); one thread needs none", async () => {
    const env = { MLBRIDGE_TEST_FAIL_TRAIN_THREAD_ALLOC: "1" };
    const run = (threads: number) =>
      `core.readNerCsv(${JSON.stringify(dataFile("ner.csv"))}, core.CRF_PRESETS.rich.template, true)
        .then(({ sequences }) => core.trainCrf(sequences.slice(0, 50), { algorithm: "lbfgs", params: { max_iterations: 5, threads: ${threads} } }))
        .then((r) => console.log("model " + String(r.model.length > 0)), (e) => console.log(e.code + " " + e.message))`;
    expect(await runWithEnv(env, run(2))).toMatch(/^CRFSUITE_ERROR crfsuite training failed: threads: out of memory allocating thread 1's buffers/);
    expect(await runWithEnv(env, run(1))).toBe("model true");
  });
});
