import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { CRF_PRESETS, CrfModel, readNerCsv, trainCrf, type NativeItem } from "@mlbridge/core";
import {
  CrfAlgorithm,
  type CrfPackedSequences,
  type CrfServiceTagStreamRequest,
  type CrfServiceTagStreamResponse,
} from "../src/generated/mlbridge/v1/crf_service";
import { bidi, crfSequenceRequests, crfTrainRequests, dataFile, expectStatus, labelsOf, packedOf, startHarness, unary, type Harness } from "./helpers";

let h: Harness;
const nerCsv = readFileSync(dataFile("ner.csv"));
const predictCsv = readFileSync(dataFile("ner_predict.csv"));
/** Rows of the predict file, and sentences of the training file (distinct sentence_idx). */
const predictRows = predictCsv.toString().trimEnd().split("\n").length - 1;
const nerSentences = new Set(
  nerCsv
    .toString()
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.split(",")[21]),
).size;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const train = (header: Parameters<typeof crfTrainRequests>[0], csv = nerCsv) => bidi(h.crf.train(), crfTrainRequests(header, csv));

const packedRequest = (packed: CrfPackedSequences, marginals = false, modelName = "ner.packed") => ({
  modelName,
  packed,
  includeProbability: true,
  includeMarginals: marginals,
});
/** A Train stream on labelled sequences: the header, then one CrfLabelledSequences message. */
const trainOnSequences = (header: Parameters<typeof crfSequenceRequests>[0], seqs: { items: NativeItem[]; labels: string[] }[]) =>
  bidi(h.crf.train(), crfSequenceRequests(header, seqs));

describe("CrfService happy paths on data in the book's format", () => {
  it("Train streams progress then a report with holdout metrics (the book's fit)", async () => {
    const events = await train({ modelName: "model.crfsuite", featurePreset: "book" });
    const progress = events.filter((e) => e.event?.$case === "progress").map((e) => (e.event as { value: { stage: string; iteration: number } }).value);
    expect(progress.some((p) => p.stage === "training" && p.iteration === 1)).toBe(true);
    const last = events.at(-1)!.event!;
    expect(last.$case).toBe("report");
    const report = last.$case === "report" ? last.value : undefined;
    expect(report!.model!.name).toBe("model.crfsuite");
    expect(report!.model!.format).toBe("crfsuite");
    expect(report!.trainSequences + report!.testSequences).toBe(nerSentences);
    expect(report!.metrics!.tokenAccuracy).toBeGreaterThan(0.85);
    expect(report!.accuracyLine).toMatch(/^accuracy=/);
    expect(report!.model!.parameters.algorithm).toBe("arow");
    expect(report!.model!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("Predict tags the book's predict file: one label per row, in order (the book's predict)", async () => {
    const res = await unary(h.crf.predict.bind(h.crf), { modelName: "model.crfsuite", csv: predictCsv });
    expect(res.labels).toHaveLength(predictRows);
  });

  it("Tag returns labels, probabilities and marginals; TagStream answers batches in order", async () => {
    const seq: NativeItem[] = ["thousand", "of", "demonstr"].map((w) => [[w, 1]]);
    const res = await unary(h.crf.tag.bind(h.crf), { ...packedRequest(packedOf([seq, seq]), true, "model.crfsuite") });
    expect(res.packed!.labelIndices).toHaveLength(6);
    expect(res.packed!.probabilities).toHaveLength(2);
    expect(res.packed!.probabilities[0]).toBeGreaterThan(0);
    expect(res.packed!.probabilities[0]).toBeLessThanOrEqual(1);
    const L = res.labels.length;
    expect(L).toBeGreaterThan(2);
    for (let t = 0; t < 6; t++) expect(res.packed!.marginals.slice(t * L, (t + 1) * L).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

    const batches = [1, 2, 3].map((n) => ({ ...packedRequest(packedOf(Array(n).fill(seq)), false, "model.crfsuite"), includeProbability: false }));
    const out = await bidi(h.crf.tagStream(), batches);
    expect(out.map((o) => o.packed!.labelIndices.length)).toEqual([3, 6, 9]);
  });

  it("trains from labelled sequences with every algorithm choice", async () => {
    const seqs = [
      { items: [[["w=London", 1]], [["w=is", 1]]] as NativeItem[], labels: ["B-geo", "O"] },
      { items: [[["w=Paris", 1]], [["w=was", 1]]] as NativeItem[], labels: ["B-geo", "O"] },
    ];
    for (const algorithm of [
      CrfAlgorithm.CRF_ALGORITHM_LBFGS,
      CrfAlgorithm.CRF_ALGORITHM_AP,
      CrfAlgorithm.CRF_ALGORITHM_PA,
      CrfAlgorithm.CRF_ALGORITHM_AROW,
      CrfAlgorithm.CRF_ALGORITHM_L2SGD,
    ]) {
      const events = await trainOnSequences({ modelName: "tiny", algorithm, parameters: { max_iterations: "10" } }, seqs);
      expect(events.at(-1)!.event!.$case).toBe("report");
    }
    const res = await unary(h.crf.tag.bind(h.crf), { ...packedRequest(packedOf([seqs[0].items]), false, "tiny"), includeProbability: false });
    expect(labelsOf(res, [2])).toEqual([["B-geo", "O"]]);
  });

  it("predictions keep working while the model is retrained", async () => {
    const training = train({ modelName: "model.crfsuite", featurePreset: "rich" });
    let answered = 0;
    let done = false;
    void training.finally(() => (done = true));
    while (!done) {
      const res = await unary(h.crf.predict.bind(h.crf), { modelName: "model.crfsuite", csv: predictCsv });
      expect(res.labels).toHaveLength(predictRows);
      answered++;
    }
    const events = await training;
    expect(events.at(-1)!.event!.$case).toBe("report");
    expect(answered).toBeGreaterThan(1);
    const info = await unary(h.models.getModel.bind(h.models), { name: "model.crfsuite" });
    expect(info.model!.parameters.feature_preset).toBe("rich");
  });
});

describe("CrfPackedSequences: the one form of CRF data on the wire", () => {
  // The book's features of ner.csv (lemma 1.0, next-lemma 0.5), as core builds them from the CSV.
  let data: { items: NativeItem[]; labels: string[] }[];
  beforeAll(async () => {
    data = (await readNerCsv(nerCsv, CRF_PRESETS.book.template, true)).sequences as { items: NativeItem[]; labels: string[] }[];
  });

  it("training on packed sequences gives the model core trains on the same sequences", async () => {
    const events = await trainOnSequences({ modelName: "ner.packed", algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS, parameters: { max_iterations: "15" } }, data);
    const report = events.at(-1)!.event!.$case === "report" ? (events.at(-1)!.event!.value as { model: { sha256: string }; trainTokens: number }) : undefined;
    expect(report!.trainTokens).toBe(data.reduce((n, s) => n + s.items.length, 0));
    const local = await trainCrf(data, { algorithm: "lbfgs", params: { max_iterations: 15 } });
    expect(report!.model.sha256).toBe(createHash("sha256").update(local.model).digest("hex"));
  });

  it("Tag answers in CrfPackedTags what core's tagger gives; no weights means 1.0, and weights matter", async () => {
    const seqs = data.slice(0, 60).map((s) => s.items);
    const flat = await unary(h.crf.tag.bind(h.crf), packedRequest(packedOf(seqs), true));
    const model = CrfModel.fromBuffer(await h.server.context.store.bytes("ner.packed"));
    try {
      const local = await model.tagMany(seqs, { probability: true, marginals: true });
      expect(flat.labels).toEqual(model.labels);
      const L = flat.labels.length;
      let first = 0;
      local.forEach((s, i) => {
        expect(flat.packed!.labelIndices.slice(first, first + s.labels.length).map((k) => flat.labels[k])).toEqual(s.labels);
        expect(flat.packed!.probabilities[i]).toBe(s.probability);
        expect(flat.packed!.marginals.slice(first * L, (first + s.labels.length) * L)).toEqual(Array.from(s.marginals!));
        first += s.labels.length;
      });
      expect(flat.packed!.labelIndices).toHaveLength(first);
    } finally {
      model.dispose();
    }
    expect(new Set(flat.packed!.labelIndices).size).toBeGreaterThan(1); // a real model, not one label everywhere
    // Without marginals or probabilities asked for, only the path comes back.
    const bare = await unary(h.crf.tag.bind(h.crf), { ...packedRequest(packedOf(seqs)), includeProbability: false });
    expect(bare.packed).toEqual({ labelIndices: flat.packed!.labelIndices, probabilities: [], marginals: [] });
    // All weights 1.0: no attribute_weights and explicit 1.0 are the same input; the book's 0.5 weights differ.
    const ones = seqs.map((its) => its.map((it) => it.map(([n]) => [n, 1] as [string, number])));
    const implicit = packedOf(ones);
    expect(implicit.attributeWeights).toEqual([]);
    const explicit = { ...implicit, attributeWeights: ones.flat(2).map(() => 1) };
    const [c, d] = await Promise.all([unary(h.crf.tag.bind(h.crf), packedRequest(implicit)), unary(h.crf.tag.bind(h.crf), packedRequest(explicit))]);
    expect(d.packed).toEqual(c.packed);
    expect(c.packed!.probabilities).not.toEqual(flat.packed!.probabilities);
  });

  it("TagStream answers packed batches in order, large ones tagged off the event loop", async () => {
    const batches: CrfServiceTagStreamRequest[] = [];
    for (let i = 0; i < data.length; i += 300) batches.push(packedRequest(packedOf(data.slice(i, i + 300).map((s) => s.items))));
    expect(Math.max(...batches.map((b) => b.packed!.itemAttributeCounts.length))).toBeGreaterThan(2048);
    const out = await bidi<CrfServiceTagStreamRequest, CrfServiceTagStreamResponse>(h.crf.tagStream(), batches);
    const expected = await Promise.all(batches.map((b) => unary(h.crf.tag.bind(h.crf), b)));
    expect(out.map((o) => o.packed)).toEqual(expected.map((e) => e.packed));
    expect(out.reduce((n, o) => n + o.packed!.labelIndices.length, 0)).toBe(data.reduce((n, s) => n + s.items.length, 0));
  });

  it("bad packed input: INVALID_ARGUMENT naming the field and position; the model tags on", async () => {
    const good = packedOf(data.slice(0, 2).map((s) => s.items));
    const I = status.INVALID_ARGUMENT;
    const tagPacked = (p: Partial<CrfPackedSequences>) => unary(h.crf.tag.bind(h.crf), packedRequest({ ...good, ...p }));
    await expectStatus(
      unary(h.crf.tag.bind(h.crf), { modelName: "ner.packed", includeProbability: false, includeMarginals: false }),
      I,
      "packed.sequence_lengths: at least one sequence is required",
    );
    await expectStatus(
      tagPacked({ attributeNames: Buffer.alloc(0), attributeWeights: [], itemAttributeCounts: [], sequenceLengths: [] }),
      I,
      "packed.sequence_lengths: at least one sequence is required",
    );
    await expectStatus(
      tagPacked({ sequenceLengths: [good.sequenceLengths[0]] }),
      I,
      /packed\.sequenceLengths: the lengths add up to \d+ items, but itemAttributeCounts has \d+/,
    );
    await expectStatus(
      tagPacked({ attributeNames: Buffer.concat([Buffer.from("\0"), good.attributeNames.subarray(1)]) }),
      I,
      "packed.attributeNames: attribute 0 (sequence 0, item 0, attribute 0) has an empty name",
    );
    await expectStatus(tagPacked({ attributeWeights: [1] }), I, "packed.attributeWeights: expected");
    await expectStatus(
      tagPacked({ attributeWeights: good.attributeWeights.map((w, i) => (i === 3 ? Number.NaN : w)) }),
      I,
      "packed.attributeWeights: attribute 3 (sequence 0, item 1, attribute 1) is not finite",
    );
    await expectStatus(unary(h.crf.tag.bind(h.crf), packedRequest(good, false, "no-such-model")), status.NOT_FOUND, "no-such-model");
    const got: CrfServiceTagStreamResponse[] = [];
    await expectStatus(
      bidi(h.crf.tagStream(), [packedRequest(good), packedRequest({ ...good, itemAttributeCounts: [1] })], (r) => got.push(r)),
      I,
      "batch 1: packed.sequenceLengths",
    );
    expect(got).toHaveLength(1);
    expect((await unary(h.crf.tag.bind(h.crf), packedRequest(good))).packed!.labelIndices).toEqual(got[0].packed!.labelIndices);
  });

  it("labelled sequences count toward --max-upload-bytes as CSV chunks do", async () => {
    const small = await startHarness(["--max-upload-bytes", "4096"]);
    try {
      const many = data.slice(0, 200); // ~30 KB of attribute names
      await expectStatus(
        bidi(small.crf.train(), crfSequenceRequests({ modelName: "too-big" }, many)),
        status.RESOURCE_EXHAUSTED,
        "the upload exceeds the server's limit of 4096 bytes",
      );
      const few = data.slice(0, 2);
      expect(
        (await bidi(small.crf.train(), crfSequenceRequests({ modelName: "small-enough", parameters: { max_iterations: "2" } }, few))).at(-1)!.event!.$case,
      ).toBe("report");
    } finally {
      await small.close();
    }
  });

  it("bad training sequences: the size, the labels, the names and weights, each named", async () => {
    const I = status.INVALID_ARGUMENT;
    const header = {
      payload: {
        $case: "header" as const,
        value: { modelName: "bad", algorithm: 0, parameters: {}, featurePreset: "", seed: 0, noHoldout: true, failIfExists: false },
      },
    };
    const send = (value: { sequences?: CrfPackedSequences; labels: string[] }) => bidi(h.crf.train(), [header, { payload: { $case: "sequences", value } }]);
    const two = packedOf([[[["a", 1]], [["b", 1]]]]);
    await expectStatus(send({ labels: ["O"] }), I, "message 1: sequences.sequences: required");
    await expectStatus(send({ sequences: two, labels: ["O"] }), I, "message 1: sequences.sequences: expected 2 labels (one per item), got 1");
    await expectStatus(
      send({ sequences: { ...two, sequenceLengths: [3] }, labels: ["O", "O"] }),
      I,
      "message 1: sequences.sequences.sequence_lengths: the lengths add up to 3 items, but item_attribute_counts has 2",
    );
    await expectStatus(
      send({ sequences: { ...two, attributeWeights: [1] }, labels: ["O", "O"] }),
      I,
      "message 1: sequences.sequences.attribute_weights: expected 2 weights (one per attribute) or none, got 1",
    );
    await expectStatus(
      send({ sequences: { ...two, attributeNames: Buffer.from("a\0") }, labels: ["O", "O"] }),
      I,
      "message 1: sequences.sequences.attribute_names: holds 1 NUL-terminated names, item_attribute_counts add up to 2",
    );
    await expectStatus(send({ sequences: { ...two, attributeNames: Buffer.from("a\0\0") }, labels: ["O", "O"] }), I, "sequences[0].items[1][0]");
    await expectStatus(send({ sequences: { ...two, attributeWeights: [1, Number.NaN] }, labels: ["O", "O"] }), I, "sequences[0].items[1][0]");
    await expectStatus(send({ sequences: two, labels: ["O", ""] }), I, "sequences[0].labels[1]");
    expect((await unary(h.models.listModels.bind(h.models), { kind: 0 })).models.map((m) => m.name)).not.toContain("bad");
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
    await expectStatus(
      train({ modelName: "x", parameters: { c3: "1" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }),
      status.INVALID_ARGUMENT,
      /parameters\.c3: unknown parameter/,
    );
    await expectStatus(train({ modelName: "../x" }), status.INVALID_ARGUMENT, /model_name: "\.\.\/x" is not a valid model name/);
    await expectStatus(train({ modelName: "x", featurePreset: "fancy" }), status.INVALID_ARGUMENT, /unknown preset "fancy"/);
    await expectStatus(
      bidi(h.crf.train(), [{ payload: { $case: "csvChunk", value: Buffer.from("a") } }]),
      status.INVALID_ARGUMENT,
      /first message must be the header/,
    );
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
    for (const r of crfTrainRequests({ modelName: "cancelled", parameters: { max_iterations: "10000" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }, nerCsv))
      call.write(r);
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
      call.on("end", () => resolve(status.OK)); // finished before its deadline: a failure, not a hang
      // ner_large: L-BFGS needs seconds to converge on it, far past the deadline.
      for (const r of crfTrainRequests(
        { modelName: "slow", parameters: { max_iterations: "10000" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS },
        readFileSync(dataFile("ner_large.csv")),
        1 << 20,
      ))
        call.write(r);
      call.end();
    });
    expect(code).toBe(status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.server.context.trainings.active).toBe(0);
  });
});
