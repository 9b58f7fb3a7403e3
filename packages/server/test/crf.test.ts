import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRF_PRESETS, packSequences, readNerCsv, type NativeItem } from "@mlbridge/core";
import { CrfAlgorithm, type CrfItem, type CrfPackedSequences, type CrfServiceTagStreamRequest, type CrfServiceTagStreamResponse } from "../src/generated/mlbridge/v1/crf_service";
import { bidi, dataFile, crfTrainRequests, expectStatus, startHarness, unary, type Harness } from "./helpers";

let h: Harness;
const nerCsv = readFileSync(dataFile("ner.csv"));
const predictCsv = readFileSync(dataFile("ner_predict.csv"));
/** Rows of the predict file, and sentences of the training file (distinct sentence_idx). */
const predictRows = predictCsv.toString().trimEnd().split("\n").length - 1;
const nerSentences = new Set(nerCsv.toString().trimEnd().split("\n").slice(1).map((l) => l.split(",")[21])).size;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const train = (header: Parameters<typeof crfTrainRequests>[0], csv = nerCsv) => bidi(h.crf.train(), crfTrainRequests(header, csv));

/** An item with a message per attribute (weight unset = 1.0). */
const nested = (names: string[], weights?: number[]): CrfItem => ({
  attributes: names.map((name, j) => ({ name, weight: weights?.[j] })),
  attributeNames: [],
  attributeWeights: [],
});
/** The same item in the compact form. */
const compact = (names: string[], weights: number[] = []): CrfItem => ({ attributes: [], attributeNames: names, attributeWeights: weights });
const itemOf = (form: "nested" | "compact", it: NativeItem): CrfItem =>
  form === "nested" ? nested(it.map((a) => a[0]), it.map((a) => a[1])) : compact(it.map((a) => a[0]), it.map((a) => a[1]));
const tagRequest = (modelName: string, items: CrfItem[][], includeProbability = false) => ({
  modelName,
  sequences: items.map((its) => ({ items: its, labels: [] })),
  includeProbability,
  includeMarginals: false,
});

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
    const seq = { items: ["thousand", "of", "demonstr"].map((w) => ({ attributes: [{ name: w, weight: 1 }], attributeNames: [], attributeWeights: [] })), labels: [] };
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
      { items: [nested(["w=London"]), nested(["w=is"])], labels: ["B-geo", "O"] },
      { items: [nested(["w=Paris"]), nested(["w=was"])], labels: ["B-geo", "O"] },
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

describe("CrfItem in the compact form (attribute_names + attribute_weights)", () => {
  // The book's features of ner.csv (lemma 1.0, next-lemma 0.5), as core builds them from the CSV.
  let data: { items: NativeItem[]; labels: string[] }[];
  const trainOn = (modelName: string, form: "nested" | "compact") =>
    bidi(h.crf.train(), [
      { payload: { $case: "header", value: { modelName, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS, parameters: { max_iterations: "15" }, featurePreset: "", seed: 0, noHoldout: true, failIfExists: false } } },
      { payload: { $case: "sequences", value: { sequences: data.map((s) => ({ items: s.items.map((it) => itemOf(form, it)), labels: s.labels })) } } },
    ]);

  beforeAll(async () => {
    data = (await readNerCsv(nerCsv, CRF_PRESETS.book.template, true)).sequences;
  });

  it("training from compact items gives the same model as from nested items", async () => {
    const [a, b] = [await trainOn("ner.nested", "nested"), await trainOn("ner.compact", "compact")];
    const report = (events: typeof a) => (events.at(-1)!.event!.$case === "report" ? events.at(-1)!.event!.value : undefined) as { model: { sha256: string }; trainTokens: number };
    expect(report(a).trainTokens).toBe(data.reduce((n, s) => n + s.items.length, 0));
    expect(report(b).model.sha256).toBe(report(a).model.sha256);
  });

  it("Tag gives the same labels and probabilities for both forms; no weights means 1.0", async () => {
    const sentences = data.slice(0, 50).map((s) => s.items);
    const tagAs = (items: CrfItem[][]) => unary(h.crf.tag.bind(h.crf), tagRequest("ner.compact", items, true));
    const a = await tagAs(sentences.map((its) => its.map((it) => itemOf("nested", it))));
    const b = await tagAs(sentences.map((its) => its.map((it) => itemOf("compact", it))));
    expect(b.sequences).toEqual(a.sequences);
    expect(new Set(a.sequences.flatMap((s) => s.labels)).size).toBeGreaterThan(1); // a real model, not one label everywhere
    // All weights 1.0: unset weights (nested), empty attribute_weights and explicit 1.0 are the same input.
    const names = sentences.map((its) => its.map((it) => it.map((x) => x[0])));
    const c = await tagAs(names.map((its) => its.map((n) => nested(n))));
    const d = await tagAs(names.map((its) => its.map((n) => compact(n))));
    const e = await tagAs(names.map((its) => its.map((n) => compact(n, n.map(() => 1)))));
    expect(d.sequences).toEqual(c.sequences);
    expect(e.sequences).toEqual(c.sequences);
    expect(c.sequences.map((s) => s.probability)).not.toEqual(a.sequences.map((s) => s.probability)); // the weights do matter
  });

  it("items of both forms mix within a request, one form per item", async () => {
    const its = data[0].items;
    const mixed = its.map((it, i) => itemOf(i % 2 ? "compact" : "nested", it));
    const [a, b] = await Promise.all([unary(h.crf.tag.bind(h.crf), tagRequest("ner.compact", [mixed], true)), unary(h.crf.tag.bind(h.crf), tagRequest("ner.compact", [its.map((it) => itemOf("nested", it))], true))]);
    expect(a.sequences).toEqual(b.sequences);
  });

  it("TagStream answers large batches (tagged off the event loop) in request order", async () => {
    const batches: CrfServiceTagStreamRequest[] = [];
    for (let i = 0; i < data.length; i += 300) batches.push(tagRequest("ner.compact", data.slice(i, i + 300).map((s) => s.items.map((it) => itemOf("compact", it)))));
    expect(Math.max(...batches.map((b) => b.sequences.reduce((n, s) => n + s.items.length, 0)))).toBeGreaterThan(2048);
    const out = await bidi<CrfServiceTagStreamRequest, CrfServiceTagStreamResponse>(h.crf.tagStream(), batches);
    const expected = await Promise.all(batches.map((b) => unary(h.crf.tag.bind(h.crf), b)));
    expect(out.map((o) => o.sequences)).toEqual(expected.map((e) => e.sequences));
  });

  it("TagStream answers the batches before a bad one, then fails naming it", async () => {
    const good = tagRequest("ner.compact", data.slice(0, 120).map((s) => s.items.map((it) => itemOf("compact", it))));
    const bad = tagRequest("ner.compact", [[compact(["a", "b"], [1])]]);
    const got: CrfServiceTagStreamResponse[] = [];
    await expectStatus(bidi(h.crf.tagStream(), [good, good, bad, good], (r) => got.push(r)), status.INVALID_ARGUMENT, "batch 2: sequences[0].items[0].attribute_weights: expected 2 weights");
    expect(got).toHaveLength(2);
    expect(got[0].sequences).toHaveLength(120);
  });
});

describe("CrfPackedSequences: the flat form for bulk tagging", () => {
  // Tags with the model "ner.compact" trained above on the book's features of ner.csv.
  let data: { items: NativeItem[]; labels: string[] }[];
  beforeAll(async () => {
    data = (await readNerCsv(nerCsv, CRF_PRESETS.book.template, true)).sequences;
  });
  const packedOf = (seqs: NativeItem[][]): CrfPackedSequences => {
    const p = packSequences(seqs);
    return { attributeNames: Buffer.from(p.attributeNames), attributeWeights: Array.from(p.attributeWeights ?? []), itemAttributeCounts: Array.from(p.itemAttributeCounts), sequenceLengths: Array.from(p.sequenceLengths) };
  };
  const packedRequest = (packed: CrfPackedSequences, marginals = false, modelName = "ner.compact") => ({ modelName, sequences: [], packed, includeProbability: true, includeMarginals: marginals });

  it("Tag answers in CrfPackedTags exactly what the per-item forms give", async () => {
    const seqs = data.slice(0, 60).map((s) => s.items);
    const [flat, nested] = await Promise.all([
      unary(h.crf.tag.bind(h.crf), packedRequest(packedOf(seqs), true)),
      unary(h.crf.tag.bind(h.crf), { ...tagRequest("ner.compact", seqs.map((its) => its.map((it) => itemOf("nested", it))), true), includeMarginals: true }),
    ]);
    expect(flat.sequences).toEqual([]);
    expect(flat.labels).toEqual(nested.labels);
    const L = flat.labels.length;
    let first = 0;
    nested.sequences.forEach((s, i) => {
      expect(flat.packed!.labelIndices.slice(first, first + s.labels.length).map((k) => flat.labels[k])).toEqual(s.labels);
      expect(flat.packed!.probabilities[i]).toBe(s.probability);
      expect(flat.packed!.marginals.slice(first * L, (first + s.labels.length) * L)).toEqual(s.marginals.flatMap((m) => m.probabilities));
      first += s.labels.length;
    });
    expect(flat.packed!.labelIndices).toHaveLength(first);
    expect(new Set(flat.packed!.labelIndices).size).toBeGreaterThan(1);
    // Without marginals or probabilities asked for, only the path comes back.
    const bare = await unary(h.crf.tag.bind(h.crf), { ...packedRequest(packedOf(seqs)), includeProbability: false });
    expect(bare.packed).toEqual({ labelIndices: flat.packed!.labelIndices, probabilities: [], marginals: [] });
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
    await expectStatus(unary(h.crf.tag.bind(h.crf), { ...packedRequest(good), sequences: [{ items: [compact(["a"])], labels: [] }] }), I, "packed: give sequences or packed, not both");
    await expectStatus(tagPacked({ attributeNames: Buffer.alloc(0), attributeWeights: [], itemAttributeCounts: [], sequenceLengths: [] }), I, "packed.sequence_lengths: at least one sequence is required");
    await expectStatus(tagPacked({ sequenceLengths: [good.sequenceLengths[0]] }), I, /packed\.sequenceLengths: the lengths add up to \d+ items, but itemAttributeCounts has \d+/);
    await expectStatus(tagPacked({ attributeNames: Buffer.concat([Buffer.from("\0"), good.attributeNames.subarray(1)]) }), I, "packed.attributeNames: attribute 0 (sequence 0, item 0, attribute 0) has an empty name");
    await expectStatus(tagPacked({ attributeWeights: [1] }), I, "packed.attributeWeights: expected");
    await expectStatus(tagPacked({ attributeWeights: good.attributeWeights.map((w, i) => (i === 3 ? Number.NaN : w)) }), I, "packed.attributeWeights: attribute 3 (sequence 0, item 1, attribute 1) is not finite");
    await expectStatus(unary(h.crf.tag.bind(h.crf), packedRequest(good, false, "no-such-model")), status.NOT_FOUND, "no-such-model");
    const got: CrfServiceTagStreamResponse[] = [];
    await expectStatus(bidi(h.crf.tagStream(), [packedRequest(good), packedRequest({ ...good, itemAttributeCounts: [1] })], (r) => got.push(r)), I, "batch 1: packed.sequenceLengths");
    expect(got).toHaveLength(1);
    expect((await unary(h.crf.tag.bind(h.crf), packedRequest(good))).packed!.labelIndices).toEqual(got[0].packed!.labelIndices);
  });
});

describe("CrfService errors", () => {
  it("compact items: both forms in one item, weights not one per name, empty names, non-finite weights", async () => {
    const tagItems = (items: CrfItem[]) => unary(h.crf.tag.bind(h.crf), tagRequest("model.crfsuite", [[compact(["ok"]), ...items]]));
    const I = status.INVALID_ARGUMENT;
    await expectStatus(
      tagItems([{ attributes: [{ name: "a" }], attributeNames: ["b"], attributeWeights: [] }]),
      I,
      "sequences[0].items[1]: give attributes or attribute_names (with attribute_weights), not both (got 1 attributes, 1 attribute_names, 0 attribute_weights)",
    );
    await expectStatus(tagItems([compact(["a", "b", "c"], [1, 0.5])]), I, "sequences[0].items[1].attribute_weights: expected 3 weights (one per attribute name) or none, got 2");
    await expectStatus(tagItems([compact(["a"], [1, 0.5])]), I, "sequences[0].items[1].attribute_weights: expected 1 weights (one per attribute name) or none, got 2");
    await expectStatus(tagItems([compact([], [0.5])]), I, "sequences[0].items[1].attribute_weights: expected 0 weights");
    await expectStatus(tagItems([{ attributes: [{ name: "a" }], attributeNames: [], attributeWeights: [1] }]), I, "sequences[0].items[1]: give attributes or attribute_names (with attribute_weights), not both (got 1 attributes, 0 attribute_names, 1 attribute_weights)");
    await expectStatus(tagItems([compact(["a", ""])]), I, "sequences[0].items[1].attribute_names[1]: required");
    await expectStatus(tagItems([compact(["a", "b"], [1, Number.NaN])]), I, "sequences[0].items[1].attribute_weights[1]: must be finite, got NaN");
    await expectStatus(tagItems([compact(["a"], [Number.POSITIVE_INFINITY])]), I, "sequences[0].items[1].attribute_weights[0]: must be finite, got Infinity");
    // The same checks apply to training sequences.
    await expectStatus(
      bidi(h.crf.train(), [
        { payload: { $case: "header", value: { modelName: "bad", algorithm: 0, parameters: {}, featurePreset: "", seed: 0, noHoldout: true, failIfExists: false } } },
        { payload: { $case: "sequences", value: { sequences: [{ items: [compact(["a"], [1, 2])], labels: ["O"] }] } } },
      ]),
      I,
      "sequences[1].sequences[0].items[0].attribute_weights: expected 1 weights",
    );
  });

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
      call.on("end", () => resolve(status.OK)); // finished before its deadline: a failure, not a hang
      // ner_large: L-BFGS needs seconds to converge on it, far past the deadline.
      for (const r of crfTrainRequests({ modelName: "slow", parameters: { max_iterations: "10000" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }, readFileSync(dataFile("ner_large.csv")), 1 << 20)) call.write(r);
      call.end();
    });
    expect(code).toBe(status.DEADLINE_EXCEEDED);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.server.context.trainings.active).toBe(0);
  });
});
