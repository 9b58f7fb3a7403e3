import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CrfAlgorithm } from "../src/generated/mlbridge/v1/crf_service";
import { bidi, book, crfTrainRequests, expectStatus, startHarness, unary, type Harness } from "./helpers";

let h: Harness;
const nerCsv = readFileSync(book("ner.csv"));
const predictCsv = readFileSync(book("ner_predict.csv"));

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const train = (header: Parameters<typeof crfTrainRequests>[0], csv = nerCsv) => bidi(h.crf.train(), crfTrainRequests(header, csv));

describe("CrfService happy paths on the book's data", () => {
  it("Train streams progress then a report with holdout metrics (the book's fit)", async () => {
    const events = await train({ modelName: "model.crfsuite", featurePreset: "book" });
    const progress = events.filter((e) => e.event?.$case === "progress").map((e) => (e.event as { value: { stage: string; iteration: number } }).value);
    expect(progress.some((p) => p.stage === "training" && p.iteration === 1)).toBe(true);
    const last = events.at(-1)!.event!;
    expect(last.$case).toBe("report");
    const report = last.$case === "report" ? last.value : undefined;
    expect(report!.model!.name).toBe("model.crfsuite");
    expect(report!.model!.format).toBe("crfsuite");
    expect(report!.trainSequences + report!.testSequences).toBe(457);
    expect(report!.metrics!.tokenAccuracy).toBeGreaterThan(0.85);
    expect(report!.accuracyLine).toMatch(/^accuracy=/);
    expect(report!.model!.parameters.algorithm).toBe("arow");
    expect(report!.model!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("Predict tags the book's predict file: one label per row, in order (the book's predict)", async () => {
    const res = await unary(h.crf.predict.bind(h.crf), { modelName: "model.crfsuite", csv: predictCsv });
    expect(res.labels).toHaveLength(9);
  });

  it("Tag returns labels, probabilities and marginals; TagStream answers batches in order", async () => {
    const seq = { items: ["thousand", "of", "demonstr"].map((w) => ({ attributes: [{ name: w, weight: 1 }] })), labels: [] };
    const res = await unary(h.crf.tag.bind(h.crf), { modelName: "model.crfsuite", sequences: [seq, seq], includeProbability: true, includeMarginals: true });
    expect(res.sequences).toHaveLength(2);
    expect(res.sequences[0].labels).toHaveLength(3);
    expect(res.sequences[0].probability).toBeGreaterThan(0);
    expect(res.sequences[0].probability).toBeLessThanOrEqual(1);
    expect(res.labels.length).toBeGreaterThan(2);
    for (const m of res.sequences[0].marginals) expect(m.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

    const batches = [1, 2, 3].map((n) => ({ modelName: "model.crfsuite", sequences: Array(n).fill(seq), includeProbability: false, includeMarginals: false }));
    const out = await bidi(h.crf.tagStream(), batches);
    expect(out.map((o) => o.sequences.length)).toEqual([1, 2, 3]);
  });

  it("trains from structured sequences with every algorithm choice", async () => {
    const seqs = [
      { items: [{ attributes: [{ name: "w=London" }] }, { attributes: [{ name: "w=is" }] }], labels: ["B-geo", "O"] },
      { items: [{ attributes: [{ name: "w=Paris" }] }, { attributes: [{ name: "w=was" }] }], labels: ["B-geo", "O"] },
    ];
    for (const algorithm of [CrfAlgorithm.CRF_ALGORITHM_LBFGS, CrfAlgorithm.CRF_ALGORITHM_AP, CrfAlgorithm.CRF_ALGORITHM_PA, CrfAlgorithm.CRF_ALGORITHM_AROW, CrfAlgorithm.CRF_ALGORITHM_L2SGD]) {
      const events = await bidi(h.crf.train(), [
        { payload: { $case: "header", value: { modelName: "tiny", algorithm, parameters: { max_iterations: "10" }, featurePreset: "", seed: 0, noHoldout: true, failIfExists: false } } },
        { payload: { $case: "sequences", value: { sequences: seqs } } },
      ]);
      expect(events.at(-1)!.event!.$case).toBe("report");
    }
    const res = await unary(h.crf.tag.bind(h.crf), { modelName: "tiny", sequences: [seqs[0]], includeProbability: false, includeMarginals: false });
    expect(res.sequences[0].labels).toEqual(["B-geo", "O"]);
  });

  it("predictions keep working while the model is retrained", async () => {
    const training = train({ modelName: "model.crfsuite", featurePreset: "rich" });
    let answered = 0;
    let done = false;
    void training.finally(() => (done = true));
    while (!done) {
      const res = await unary(h.crf.predict.bind(h.crf), { modelName: "model.crfsuite", csv: predictCsv });
      expect(res.labels).toHaveLength(9);
      answered++;
    }
    const events = await training;
    expect(events.at(-1)!.event!.$case).toBe("report");
    expect(answered).toBeGreaterThan(1);
    const info = await unary(h.models.getModel.bind(h.models), { name: "model.crfsuite" });
    expect(info.model!.parameters.feature_preset).toBe("rich");
  });
});

describe("CrfService errors", () => {
  it("a malformed CSV names the line", async () => {
    const bad = Buffer.from(nerCsv.toString().split("\n").slice(0, 5).join("\n") + "\n1,2,3\n");
    await expectStatus(train({ modelName: "bad" }, bad), status.INVALID_ARGUMENT, /training CSV line 6:/);
    await expectStatus(unary(h.models.getModel.bind(h.models), { name: "bad" }), status.NOT_FOUND, "model 'bad' not found");
  });

  it("an unknown model is NOT_FOUND", async () => {
    await expectStatus(unary(h.crf.predict.bind(h.crf), { modelName: "nope", csv: predictCsv }), status.NOT_FOUND, "model 'nope' not found");
  });

  it("header problems are INVALID_ARGUMENT before any data is read", async () => {
    await expectStatus(train({ modelName: "x", parameters: { c3: "1" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }), status.INVALID_ARGUMENT, /parameters\.c3: unknown parameter/);
    await expectStatus(train({ modelName: "../x" }), status.INVALID_ARGUMENT, /model_name: "\.\.\/x" is not a valid model name/);
    await expectStatus(train({ modelName: "x", featurePreset: "fancy" }), status.INVALID_ARGUMENT, /unknown preset "fancy"/);
    await expectStatus(bidi(h.crf.train(), [{ payload: { $case: "csvChunk", value: Buffer.from("a") } }]), status.INVALID_ARGUMENT, /first message must be the header/);
    await expectStatus(bidi(h.crf.train(), crfTrainRequests({ modelName: "x" }, Buffer.alloc(0))), status.INVALID_ARGUMENT, /no training data/);
  });

  it("fail_if_exists gives ALREADY_EXISTS", async () => {
    await expectStatus(train({ modelName: "model.crfsuite", failIfExists: true }), status.ALREADY_EXISTS, "already exists");
  });

  it("cancelling a training stops it and stores nothing", async () => {
    const call = h.crf.train();
    const done = new Promise<number>((resolve) => {
      call.on("data", (e: { event?: { $case: string; value: { iteration?: number } } }) => {
        if (e.event?.$case === "progress" && (e.event.value.iteration ?? 0) >= 2) call.cancel();
      });
      call.on("error", (err: { code: number }) => resolve(err.code));
      call.on("end", () => resolve(-1));
    });
    for (const r of crfTrainRequests({ modelName: "cancelled", parameters: { max_iterations: "10000" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }, nerCsv)) call.write(r);
    call.end();
    expect(await done).toBe(status.CANCELLED);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.server.context.trainings.active).toBe(0);
    await expectStatus(unary(h.models.getModel.bind(h.models), { name: "cancelled" }), status.NOT_FOUND, "not found");
  });

  it("a training past its deadline ends with DEADLINE_EXCEEDED and frees its slot", async () => {
    const call = h.crf.train({ deadline: Date.now() + 800 });
    const code = await new Promise<number>((resolve) => {
      call.on("data", () => undefined);
      call.on("error", (err: { code: number }) => resolve(err.code));
      for (const r of crfTrainRequests({ modelName: "slow", parameters: { max_iterations: "10000" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }, nerCsv)) call.write(r);
      call.end();
    });
    expect(code).toBe(status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.server.context.trainings.active).toBe(0);
  });
});
