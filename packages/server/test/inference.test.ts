import { readFileSync } from "node:fs";
import path from "node:path";
import { Metadata, credentials, status } from "@grpc/grpc-js";
import type { NativeItem } from "@mlbridge/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GRPCInferenceServiceClient,
  type InferTensorContents,
  type ModelInferRequest,
  type ModelInferRequest_InferInputTensor,
  type ModelInferResponse,
} from "../src/generated/inference/grpc_predict_v2";
import { PredictOutput } from "../src/generated/mlbridge/v1/xgboost_service";
import {
  bidi,
  crfSequenceRequests,
  crfTrainRequests,
  dataFile,
  expectStatus,
  labelsOf,
  packedOf,
  startHarness,
  unary,
  xgbTrainRequests,
  type Harness,
} from "./helpers";

let h: Harness;
let oip: GRPCInferenceServiceClient;

const IRIS = "iris.oip";
const REG = "reg.oip";
const NER = "ner.oip";
const TINY = "tiny.oip";

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

let nerLabels: number;

beforeAll(async () => {
  h = await startHarness();
  oip = new GRPCInferenceServiceClient(h.address, credentials.createInsecure());
  await bidi(h.xgb.train(), xgbTrainRequests({ modelName: IRIS, preset: "iris" }, readFileSync(dataFile("iris.csv"))));
  const values: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 100; i++) {
    values.push(i % 10, (i * 7) % 5);
    labels.push(2 * (i % 10) + ((i * 7) % 5) / 2);
  }
  await bidi(h.xgb.train(), [
    {
      payload: {
        $case: "header",
        value: {
          modelName: REG,
          preset: "",
          parameters: { objective: "reg:squarederror" },
          numRounds: 5,
          seed: 1,
          featureNames: [],
          classNames: [],
          labelColumn: "",
          failIfExists: false,
        },
      },
    },
    { payload: { $case: "rows", value: { features: { rows: 100, cols: 2, values }, labels, weights: [] } } },
  ]);
  const nerCsv = readFileSync(dataFile("ner.csv"));
  await bidi(h.crf.train(), crfTrainRequests({ modelName: NER, featurePreset: "book" }, nerCsv));
  // Every tag of the file: the model's labels (the holdout part holds no tag that training lacks here).
  nerLabels = new Set(
    nerCsv
      .toString()
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.slice(l.lastIndexOf(",") + 1)),
  ).size;
  await bidi(
    h.crf.train(),
    crfSequenceRequests({ modelName: TINY, parameters: { max_iterations: "20" } }, [
      {
        items: [
          [
            ["w=London", 1],
            ["a:b", 1],
          ],
          [["w=is", 1]],
        ],
        labels: ["B-geo", "O"],
      },
      { items: [[["w=Paris", 1]], [["w=was", 1]]], labels: ["B-geo", "O"] },
    ]),
  );
}, 180_000);

afterAll(async () => {
  oip?.close();
  await h?.close();
});

const call = <Req, Res>(method: keyof GRPCInferenceServiceClient, req: Req, md = new Metadata()): Promise<Res> =>
  unary((oip[method] as (...a: unknown[]) => unknown).bind(oip) as never, req, md);

const EMPTY: InferTensorContents = {
  boolContents: [],
  intContents: [],
  int64Contents: [],
  uintContents: [],
  uint64Contents: [],
  fp32Contents: [],
  fp64Contents: [],
  bytesContents: [],
};

function input(name: string, datatype: string, shape: number[], contents?: Partial<InferTensorContents>): ModelInferRequest_InferInputTensor {
  return { name, datatype, shape, parameters: {}, contents: contents ? { ...EMPTY, ...contents } : undefined };
}

function infer(req: Partial<ModelInferRequest>): Promise<ModelInferResponse> {
  return call("modelInfer", { modelName: IRIS, modelVersion: "", id: "", parameters: {}, inputs: [], outputs: [], rawInputContents: [], ...req });
}

const wanted = (...names: string[]) => names.map((name) => ({ name, parameters: {} }));

function f32le(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}
function f64le(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}
function bytesTensor(values: string[]): Buffer {
  return Buffer.concat(
    values.flatMap((v) => {
      const s = Buffer.from(v, "utf8");
      const n = Buffer.alloc(4);
      n.writeUInt32LE(s.length);
      return [n, s];
    }),
  );
}
function readRawBytes(b: Buffer): string[] {
  const out: string[] = [];
  for (let p = 0; p < b.length; ) {
    const n = b.readUInt32LE(p);
    out.push(b.subarray(p + 4, p + 4 + n).toString("utf8"));
    p += 4 + n;
  }
  return out;
}
const rawF32 = (b: Buffer) => Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
const rawF64 = (b: Buffer) => Array.from({ length: b.length / 8 }, (_, i) => b.readDoubleLE(i * 8));
const rawI64 = (b: Buffer) => Array.from({ length: b.length / 8 }, (_, i) => Number(b.readBigInt64LE(i * 8)));

async function mlbridgePredict(modelName: string, rows: number[][], output = PredictOutput.PREDICT_OUTPUT_PROBABILITIES) {
  return unary(h.xgb.predict.bind(h.xgb), {
    modelName,
    output,
    input: { $case: "matrix", value: { rows: rows.length, cols: rows[0].length, values: rows.flat() } },
  });
}

describe("server endpoints", () => {
  it("ServerLive, ServerReady, ServerMetadata", async () => {
    expect(await call("serverLive", {})).toEqual({ live: true });
    expect(await call("serverReady", {})).toEqual({ ready: true });
    const version = JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")).version;
    expect(await call("serverMetadata", {})).toEqual({ name: "mlbridge", version, extensions: ["model_repository"] });
  });

  it("ModelReady: true for a stored model (any version or its own), false otherwise", async () => {
    const info = await unary(h.models.getModel.bind(h.models), { name: IRIS });
    expect(await call("modelReady", { name: IRIS, version: "" })).toEqual({ ready: true });
    expect(await call("modelReady", { name: IRIS, version: String(info.model!.version) })).toEqual({ ready: true });
    expect(await call("modelReady", { name: IRIS, version: String(info.model!.version + 1) })).toEqual({ ready: false });
    expect(await call("modelReady", { name: "nope", version: "" })).toEqual({ ready: false });
    expect(await call("modelReady", { name: "../x", version: "" })).toEqual({ ready: false });
  });

  it("ModelMetadata of an XGBoost classifier, a regressor and CRF models", async () => {
    const info = await unary(h.models.getModel.bind(h.models), { name: IRIS });
    expect(await call("modelMetadata", { name: IRIS, version: "" })).toEqual({
      name: IRIS,
      versions: [String(info.model!.version)],
      platform: "xgboost_ubj",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
      outputs: [
        { name: "predict", datatype: "INT64", shape: [-1] },
        { name: "predict_proba", datatype: "FP32", shape: [-1, 3] },
      ],
    });
    const reg = await call<object, { outputs: unknown[]; inputs: unknown[] }>("modelMetadata", { name: REG, version: "" });
    expect(reg.inputs).toEqual([{ name: "input", datatype: "FP32", shape: [-1, 2] }]);
    expect(reg.outputs).toEqual([{ name: "predict", datatype: "FP32", shape: [-1] }]);
    const ner = await call<object, { platform: string; inputs: unknown[]; outputs: unknown[] }>("modelMetadata", { name: NER, version: "" });
    expect(ner.platform).toBe("crfsuite");
    expect(ner.inputs).toEqual([
      { name: "attributes", datatype: "BYTES", shape: [-1] },
      { name: "tokens", datatype: "BYTES", shape: [-1, 2] },
      { name: "sequence_lengths", datatype: "INT64", shape: [-1] },
    ]);
    expect(ner.outputs).toEqual([
      { name: "labels", datatype: "BYTES", shape: [-1] },
      { name: "probability", datatype: "FP64", shape: [-1] },
      { name: "marginals", datatype: "FP64", shape: [-1, nerLabels] },
    ]);
    const tiny = await call<object, { inputs: { name: string }[] }>("modelMetadata", { name: TINY, version: "" });
    expect(tiny.inputs.map((i) => i.name)).toEqual(["attributes", "sequence_lengths"]);
    await expectStatus(call("modelMetadata", { name: "nope", version: "" }), status.NOT_FOUND, "model 'nope' not found");
    await expectStatus(call("modelMetadata", { name: IRIS, version: "3" }), status.NOT_FOUND, /has no version '3'/);
  });
});

describe("ModelInfer on XGBoost models", () => {
  it("typed FP32: predict (class indices) and predict_proba equal XgboostService.Predict; id echoed", async () => {
    const res = await infer({ id: "req-1", inputs: [input("input", "FP32", [3, 4], { fp32Contents: ROWS.flat() })] });
    const own = await mlbridgePredict(IRIS, ROWS);
    expect(res.id).toBe("req-1");
    expect(res.modelName).toBe(IRIS);
    expect(res.modelVersion).toMatch(/^[1-9]\d*$/); // the store's version (ModelInfo.version)
    expect(res.rawOutputContents).toEqual([]);
    expect(res.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ["predict", "INT64", [3]],
      ["predict_proba", "FP32", [3, 3]],
    ]);
    const names = ["setosa", "versicolor", "virginica"];
    expect(res.outputs[0].parameters.class_names).toEqual({ parameterChoice: { $case: "stringParam", value: JSON.stringify(names) } });
    expect(res.outputs[0].contents!.int64Contents.map((k) => names[k])).toEqual(own.classNames);
    expect(res.outputs[1].contents!.fp32Contents).toEqual(own.values.map((v) => Math.fround(v)));
  });

  it("raw FP32 in, raw out: the same predictions", async () => {
    const typed = await infer({ inputs: [input("input", "FP32", [3, 4], { fp32Contents: ROWS.flat() })] });
    const raw = await infer({ inputs: [input("whatever", "FP32", [3, 4])], rawInputContents: [f32le(ROWS.flat())] });
    expect(raw.outputs.every((o) => o.contents === undefined)).toBe(true);
    expect(raw.rawOutputContents).toHaveLength(2);
    expect(rawI64(raw.rawOutputContents[0])).toEqual(typed.outputs[0].contents!.int64Contents);
    expect(rawF32(raw.rawOutputContents[1])).toEqual(typed.outputs[1].contents!.fp32Contents);
  });

  it("FP64, typed and raw, gives the same as FP32", async () => {
    const f32 = await infer({ inputs: [input("input", "FP32", [3, 4], { fp32Contents: ROWS.flat() })] });
    const typed = await infer({ inputs: [input("input", "FP64", [3, 4], { fp64Contents: ROWS.flat() })] });
    const raw = await infer({ inputs: [input("input", "FP64", [3, 4])], rawInputContents: [f64le(ROWS.flat())] });
    expect(typed.outputs).toEqual(f32.outputs);
    expect(rawF32(raw.rawOutputContents[1])).toEqual(f32.outputs[1].contents!.fp32Contents);
  });

  it("only the requested outputs, in the requested order", async () => {
    const res = await infer({ inputs: [input("input", "FP32", [1, 4], { fp32Contents: ROWS[0] })], outputs: wanted("predict_proba", "predict") });
    expect(res.outputs.map((o) => o.name)).toEqual(["predict_proba", "predict"]);
    const one = await infer({ inputs: [input("input", "FP32", [1, 4])], rawInputContents: [f32le(ROWS[0])], outputs: wanted("predict") });
    expect(one.outputs.map((o) => o.name)).toEqual(["predict"]);
    expect(rawI64(one.rawOutputContents[0])).toEqual([0]);
  });

  it("a regressor: predict holds the values XgboostService.Predict gives", async () => {
    const rows = [
      [1, 2],
      [9, 4],
      [5, 0],
    ];
    const res = await infer({ modelName: REG, inputs: [input("input", "FP32", [3, 2], { fp32Contents: rows.flat() })] });
    const own = await mlbridgePredict(REG, rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
    expect(res.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([["predict", "FP32", [3]]]);
    expect(res.outputs[0].contents!.fp32Contents).toEqual(own.values.map((v) => Math.fround(v)));
    await expectStatus(
      infer({ modelName: REG, inputs: [input("input", "FP32", [1, 2], { fp32Contents: [1, 2] })], outputs: wanted("predict_proba") }),
      status.INVALID_ARGUMENT,
      /outputs\[0\]\.name: model 'reg\.oip' \(objective reg:squarederror, not a classifier\) has no output "predict_proba"/,
    );
  });

  it("a model trained through XgboostService.Train is servable at once, with the same store", async () => {
    const rows = Array.from({ length: 40 }, (_, i) => [i % 4, i % 3]);
    await bidi(h.xgb.train(), [
      {
        payload: {
          $case: "header",
          value: {
            modelName: "fresh",
            preset: "",
            parameters: { objective: "binary:logistic" },
            numRounds: 3,
            seed: 1,
            featureNames: [],
            classNames: ["no", "yes"],
            labelColumn: "",
            failIfExists: false,
          },
        },
      },
      { payload: { $case: "rows", value: { features: { rows: 40, cols: 2, values: rows.flat() }, labels: rows.map((r) => (r[0] > 1 ? 1 : 0)), weights: [] } } },
    ]);
    const res = await infer({ modelName: "fresh", inputs: [input("input", "FP32", [2, 2], { fp32Contents: [3, 0, 0, 0] })] });
    const own = await mlbridgePredict("fresh", [
      [3, 0],
      [0, 0],
    ]);
    expect(res.outputs[0].contents!.int64Contents).toEqual([1, 0]);
    expect(own.classNames).toEqual(["yes", "no"]);
    // binary: [P(no), P(yes)] per row, as scikit-learn's predict_proba
    expect(res.outputs[1].shape).toEqual([2, 2]);
    const p = res.outputs[1].contents!.fp32Contents;
    expect(p[1]).toBeCloseTo(own.values[0], 6);
    expect(p[0]).toBeCloseTo(1 - own.values[0], 6);
  });

  it("clear INVALID_ARGUMENT for a wrong datatype, shape, feature count or size", async () => {
    const bad = (req: Partial<ModelInferRequest>, msg: RegExp) => expectStatus(infer(req), status.INVALID_ARGUMENT, msg);
    await bad(
      { inputs: [input("input", "INT32", [1, 4], { intContents: [1, 2, 3, 4] })] },
      /inputs\[0\]\.datatype: tensor 'input' must be FP32 or FP64, got "INT32"/,
    );
    await bad({ inputs: [input("input", "FP32", [4], { fp32Contents: [1, 2, 3, 4] })] }, /inputs\[0\]\.shape: must be \[rows, features\], got \[4\]/);
    await bad(
      { inputs: [input("input", "FP32", [1, 3], { fp32Contents: [1, 2, 3] })] },
      /inputs\[0\]\.shape\[1\]: model 'iris\.oip' expects 4 features per row, got 3/,
    );
    await bad(
      { inputs: [input("input", "FP32", [2, 4], { fp32Contents: [1, 2, 3, 4] })] },
      /inputs\[0\]\.contents\.fp32_contents: shape \[2, 4\] needs 8 values, got 4/,
    );
    await bad(
      { inputs: [input("input", "FP32", [1, 4], { fp64Contents: [1, 2, 3, 4] })] },
      /fp64_contents: set for a FP32 tensor \(which uses fp32_contents\)/,
    );
    await bad(
      { inputs: [input("input", "FP32", [1, 4])], rawInputContents: [f32le([1, 2, 3])] },
      /raw_input_contents\[0\]: shape \[1, 4\] of FP32 needs 16 bytes, got 12/,
    );
    await bad(
      { inputs: [input("input", "FP32", [1, 4], { fp32Contents: [1, 2, 3, 4] })], rawInputContents: [f32le([1, 2, 3, 4])] },
      /inputs\[0\]\.contents: must be empty when raw_input_contents is used/,
    );
    await bad(
      { inputs: [input("input", "FP32", [1, 4])], rawInputContents: [f32le([1, 2, 3, 4]), f32le([1])] },
      /raw_input_contents: give one entry per input tensor \(1\), got 2/,
    );
    await bad({ inputs: [input("input", "FP32", [0, 4], { fp32Contents: [] })] }, /rows must be > 0/);
    await bad({ inputs: [input("input", "FP32", [-1, 4], { fp32Contents: [1, 2, 3, 4] })] }, /inputs\[0\]\.shape\[0\]: must be a non-negative integer, got -1/);
    await bad({ inputs: [] }, /inputs: at least one input tensor is required/);
    await bad(
      { inputs: [input("a", "FP32", [1, 4], { fp32Contents: [1, 2, 3, 4] }), input("b", "FP32", [1, 4], { fp32Contents: [1, 2, 3, 4] })] },
      /one input tensor/,
    );
    await bad(
      { inputs: [input("input", "FP32", [1, 4], { fp32Contents: [1, 2, 3, 4] })], outputs: wanted("proba") },
      /outputs\[0\]\.name: model 'iris\.oip' has no output "proba" \(its outputs: predict, predict_proba\)/,
    );
    await bad({ modelName: "../etc", inputs: [] }, /model_name: "\.\.\/etc" is not a valid model name/);
    await expectStatus(
      infer({ modelName: "nope", inputs: [input("input", "FP32", [1, 4], { fp32Contents: [1, 2, 3, 4] })] }),
      status.NOT_FOUND,
      "model 'nope' not found",
    );
    await expectStatus(
      infer({ modelVersion: "999", inputs: [input("input", "FP32", [1, 4], { fp32Contents: [1, 2, 3, 4] })] }),
      status.NOT_FOUND,
      /has no version '999'/,
    );
  });
});

describe("ModelInfer on CRF models: BYTES tensors", () => {
  const sentence = ["thousand", "of", "demonstr", "have", "march", "through", "london"];
  const attrs = sentence.map((w, i) => `${w}\t${sentence[i + 1] ?? "."}:0.5`);
  const items: NativeItem[] = sentence.map((w, i) => [
    [w, 1],
    [sentence[i + 1] ?? ".", 0.5],
  ]);
  /** CrfService.Tag on packed sequences, as per-sequence labels, probabilities and per-item marginal rows. */
  const tagSequences = async (seqs: NativeItem[][]) => {
    const res = await unary(h.crf.tag.bind(h.crf), { modelName: NER, packed: packedOf(seqs), includeProbability: true, includeMarginals: true });
    return {
      labels: res.labels,
      sequences: labelsOf(
        res,
        seqs.map((q) => q.length),
      ),
      probabilities: res.packed!.probabilities,
      marginals: res.packed!.marginals,
    };
  };

  it("attributes in (typed), labels out: the same as CrfService.Tag", async () => {
    const tag = await tagSequences([items]);
    const res = await infer({
      modelName: NER,
      id: "crf",
      inputs: [input("attributes", "BYTES", [attrs.length], { bytesContents: attrs.map((a) => Buffer.from(a)) })],
    });
    expect(res.id).toBe("crf");
    expect(res.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([["labels", "BYTES", [7]]]);
    expect(res.outputs[0].contents!.bytesContents.map((b) => b.toString())).toEqual(tag.sequences[0]);

    const all = await infer({
      modelName: NER,
      inputs: [input("attributes", "BYTES", [attrs.length], { bytesContents: attrs.map((a) => Buffer.from(a)) })],
      outputs: wanted("labels", "probability", "marginals"),
    });
    expect(all.outputs[1].contents!.fp64Contents[0]).toBeCloseTo(tag.probabilities[0], 12);
    expect(all.outputs[2].shape).toEqual([7, tag.labels.length]);
    expect(all.outputs[2].parameters.labels).toEqual({ parameterChoice: { $case: "stringParam", value: JSON.stringify(tag.labels) } });
    expect(all.outputs[2].contents!.fp64Contents).toEqual(tag.marginals);
  });

  it("raw BYTES with sequence_lengths: several sentences, raw labels out", async () => {
    const tag = await tagSequences([items.slice(0, 3), items.slice(3)]);
    const res = await infer({
      modelName: NER,
      inputs: [input("attributes", "BYTES", [7]), input("sequence_lengths", "INT32", [2])],
      rawInputContents: [bytesTensor(attrs), Buffer.from(new Int32Array([3, 4]).buffer)],
      outputs: wanted("labels", "probability"),
    });
    expect(res.outputs.map((o) => o.contents)).toEqual([undefined, undefined]);
    expect(readRawBytes(res.rawOutputContents[0])).toEqual(tag.sequences.flat());
    expect(res.outputs[1].shape).toEqual([2]);
    const p = rawF64(res.rawOutputContents[1]);
    expect(p[0]).toBeCloseTo(tag.probabilities[0], 12);
    expect(p[1]).toBeCloseTo(tag.probabilities[1], 12);
  });

  it("tokens in (columns of the model's template): the same as CrfService.Predict on the CSV", async () => {
    const csv = readFileSync(dataFile("ner_predict.csv"));
    const lines = csv
      .toString()
      .trim()
      .split("\n")
      .map((l) => l.split(","));
    const cols = ["lemma", "next-lemma"].map((c) => lines[0].indexOf(c));
    const cells = lines.slice(1).flatMap((l) => cols.map((c) => l[c]));
    const own = await unary(h.crf.predict.bind(h.crf), { modelName: NER, csv });
    const res = await infer({ modelName: NER, inputs: [input("tokens", "BYTES", [lines.length - 1, 2], { bytesContents: cells.map((c) => Buffer.from(c)) })] });
    expect(res.outputs[0].contents!.bytesContents.map((b) => b.toString())).toEqual(own.labels);
  });

  it("escaped names and weights in the attribute layout", async () => {
    // "a:b" (a name holding a colon) is written a\:b; weights after an unescaped colon.
    const res = await infer({
      modelName: TINY,
      inputs: [input("attributes", "BYTES", [2], { bytesContents: [Buffer.from("w=London\ta\\:b:1.0"), Buffer.from("w=is")] })],
    });
    expect(res.outputs[0].contents!.bytesContents.map((b) => b.toString())).toEqual(["B-geo", "O"]);
  });

  it("errors name the tensor and element", async () => {
    const bad = (req: Partial<ModelInferRequest>, msg: RegExp) => expectStatus(infer({ modelName: NER, ...req }), status.INVALID_ARGUMENT, msg);
    await bad({ inputs: [input("attributes", "FP32", [1], { fp32Contents: [1] })] }, /tensor 'attributes' must be BYTES, got "FP32"/);
    await bad(
      { inputs: [input("words", "BYTES", [1], { bytesContents: [Buffer.from("x")] })] },
      /inputs\[0\]\.name: a CRF model takes inputs 'attributes' or 'tokens'/,
    );
    await bad({ inputs: [input("attributes", "BYTES", [1, 1], { bytesContents: [Buffer.from("x")] })] }, /must be \[tokens\], got \[1, 1\]/);
    await bad(
      { inputs: [input("attributes", "BYTES", [1], { bytesContents: [Buffer.from("x:heavy")] })] },
      /element 0: attribute "x:heavy": weight "heavy" is not a finite number/,
    );
    await bad(
      { inputs: [input("attributes", "BYTES", [2])], rawInputContents: [bytesTensor(["x"])] },
      /raw_input_contents\[0\]: shape \[2\] needs 2 length-prefixed elements, got 1/,
    );
    await bad({ inputs: [input("attributes", "BYTES", [1])], rawInputContents: [Buffer.from([9, 0, 0, 0, 65])] }, /element 0: length 9 runs past the end/);
    await bad(
      {
        inputs: [
          input("attributes", "BYTES", [2], { bytesContents: [Buffer.from("x"), Buffer.from("y")] }),
          input("sequence_lengths", "INT64", [1], { int64Contents: [3] }),
        ],
      },
      /the lengths add up to 3, but 2 tokens were given/,
    );
    await bad(
      { inputs: [input("tokens", "BYTES", [1, 3], { bytesContents: ["a", "b", "c"].map((s) => Buffer.from(s)) })] },
      /must be \[tokens, 2\] \(columns lemma, next-lemma\), got \[1, 3\]/,
    );
    await bad(
      { modelName: TINY, inputs: [input("tokens", "BYTES", [1, 1], { bytesContents: [Buffer.from("x")] })] },
      /was trained on attributes, without a feature template: send 'attributes'/,
    );
    await bad(
      { inputs: [input("attributes", "BYTES", [1], { bytesContents: [Buffer.from("x")] })], outputs: wanted("predict") },
      /has no output "predict" \(its outputs: labels, probability, marginals\)/,
    );
  });
});

describe("model repository extension", () => {
  const index = (ready = false) =>
    call<object, { models: { name: string; version: string; state: string; reason: string }[] }>("repositoryIndex", { repositoryName: "", ready });

  it("RepositoryIndex lists the store; Unload evicts from memory only; Load and ModelInfer load again", async () => {
    const before = await index();
    expect(before.models.map((m) => m.name)).toEqual(expect.arrayContaining([IRIS, REG, NER, TINY]));
    expect(before.models.find((m) => m.name === IRIS)).toMatchObject({ state: "READY", reason: "" });

    await call("repositoryModelUnload", {
      repositoryName: "",
      modelName: IRIS,
      parameters: { unload_dependents: { parameterChoice: { $case: "boolParam", value: false } } },
    });
    expect(h.server.context.store.cached(IRIS)).toBeUndefined();
    expect(h.server.context.store.has(IRIS)).toBe(true);
    const after = await index();
    expect(after.models.find((m) => m.name === IRIS)).toMatchObject({ state: "UNAVAILABLE", reason: expect.stringMatching(/not loaded in memory/) });
    expect((await index(true)).models.map((m) => m.name)).not.toContain(IRIS);
    expect(await call("modelReady", { name: IRIS, version: "" })).toEqual({ ready: true }); // loads lazily

    await call("repositoryModelLoad", { repositoryName: "", modelName: IRIS, parameters: {} });
    expect(h.server.context.store.cached(IRIS)).toBeDefined();
    expect((await index(true)).models.map((m) => m.name)).toContain(IRIS);

    await call("repositoryModelUnload", { repositoryName: "", modelName: IRIS, parameters: {} });
    const res = await infer({ inputs: [input("input", "FP32", [1, 4], { fp32Contents: ROWS[0] })] });
    expect(res.outputs[0].contents!.int64Contents).toEqual([0]);
    expect(h.server.context.store.cached(IRIS)).toBeDefined();
  });

  it("a KServe-numbered request (model name in field 1, Triton's repository_name) loads and unloads too", async () => {
    await call("repositoryModelUnload", { repositoryName: REG, modelName: "", parameters: {} });
    expect(h.server.context.store.cached(REG)).toBeUndefined();
    await call("repositoryModelLoad", { repositoryName: REG, modelName: "", parameters: {} });
    expect(h.server.context.store.cached(REG)).toBeDefined();
  });

  it("errors: unknown model, invalid name, unsupported load parameters", async () => {
    await expectStatus(call("repositoryModelLoad", { repositoryName: "", modelName: "nope", parameters: {} }), status.NOT_FOUND, "model 'nope' not found");
    await expectStatus(call("repositoryModelUnload", { repositoryName: "", modelName: "nope", parameters: {} }), status.NOT_FOUND, "model 'nope' not found");
    await expectStatus(
      call("repositoryModelLoad", { repositoryName: "", modelName: "", parameters: {} }),
      status.INVALID_ARGUMENT,
      /model_name: "" is not a valid model name/,
    );
    await expectStatus(
      call("repositoryModelLoad", { repositoryName: "", modelName: IRIS, parameters: { config: { parameterChoice: { $case: "stringParam", value: "{}" } } } }),
      status.INVALID_ARGUMENT,
      /parameters: not supported \(got config\)/,
    );
  });
});

describe("auth and health", () => {
  it("the token interceptor covers the inference service; health knows it", async () => {
    const secured = await startHarness(["--auth-token", "s3cret"]);
    const client = new GRPCInferenceServiceClient(secured.address, credentials.createInsecure());
    try {
      const live = (md: Metadata) => unary(client.serverLive.bind(client), {}, md);
      await expectStatus(live(new Metadata()), status.UNAUTHENTICATED, /token/i);
      const md = new Metadata();
      md.set("authorization", "Bearer s3cret");
      expect(await live(md)).toEqual({ live: true });
    } finally {
      client.close();
      await secured.close();
    }
  });
});
