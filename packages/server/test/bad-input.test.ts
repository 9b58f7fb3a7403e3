/**
 * The bad-input corpus: every case gets the expected status and a message
 * naming the problem, and afterwards the server still answers and the stored
 * models are unchanged.
 */
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelKind } from "../src/generated/mlbridge/v1/types";
import type { PredictOutput } from "../src/generated/mlbridge/v1/xgboost_service";
import { CrfAlgorithm } from "../src/generated/mlbridge/v1/crf_service";
import { bidi, dataFile, chunks, crfTrainRequests, expectStatus, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";

let h: Harness;
const ner = readFileSync(dataFile("ner.csv"));
const nerText = ner.toString();
const nerHeader = nerText.slice(0, nerText.indexOf("\n") + 1);
const nerRows = nerText.split("\n").slice(1, 40).join("\n") + "\n";
const iris = readFileSync(dataFile("iris.csv"));
/** `rows` (CSV lines without quotes) with the field `column` of row `row` (0-based) set to `value`. */
const withField = (rows: string, row: number, column: string, value: string): string => {
  const col = nerHeader.trimEnd().split(",").indexOf(column);
  return rows
    .split("\n")
    .map((line, i) =>
      i === row
        ? line
            .split(",")
            .map((f, j) => (j === col ? value : f))
            .join(",")
        : line,
    )
    .join("\n");
};
const irisHeader = "sepal_length,sepal_width,petal_length,petal_width,species\n";
let snapshot: string;

async function storeSnapshot(): Promise<string> {
  const res = await unary(h.models.listModels.bind(h.models), { kind: 0 });
  return JSON.stringify(res.models.map((m) => [m.name, m.sha256]));
}

beforeAll(async () => {
  h = await startHarness(["--max-message-bytes", String(4 * 1024 * 1024), "--max-upload-bytes", String(40 * 1024 * 1024)]);
  await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris", preset: "iris" }, iris));
  await bidi(h.crf.train(), crfTrainRequests({ modelName: "ner", featurePreset: "book", parameters: { max_iterations: "5" } }, ner));
  snapshot = await storeSnapshot();
});
afterAll(() => h.close());

const crfTrain = (csv: Buffer | string, header: object = {}) =>
  bidi(h.crf.train(), crfTrainRequests({ modelName: "bad", featurePreset: "book", ...header }, Buffer.from(csv)));
const xgbTrain = (csv: Buffer | string, header: object = {}) =>
  bidi(h.xgb.train(), xgbTrainRequests({ modelName: "bad", preset: "iris", ...header }, Buffer.from(csv)));
const crfPredict = (csv: Buffer | string, modelName = "ner") => unary(h.crf.predict.bind(h.crf), { modelName, csv: Buffer.from(csv) });
const xgbPredictCsv = (csv: Buffer | string, modelName = "iris") =>
  unary(h.xgb.predict.bind(h.xgb), { modelName, input: { $case: "csv", value: Buffer.from(csv) }, output: 0 });
const xgbPredictMatrix = (rows: number, cols: number, values: number[], output = 0) =>
  unary(h.xgb.predict.bind(h.xgb), { modelName: "iris", input: { $case: "matrix", value: { rows, cols, values } }, output });
const getModel = (name: string) => unary(h.models.getModel.bind(h.models), { name });
const importModel = (kind: ModelKind, bytes: Buffer, name = "ner") =>
  new Promise((resolve, reject) => {
    const call = h.models.importModel((err, res) => (err ? reject(err) : resolve(res)));
    call.write({ payload: { $case: "header", value: { name, kind, format: 0, classNames: [], featureTemplate: undefined, failIfExists: false } } });
    for (const c of chunks(bytes, 1 << 20)) call.write({ payload: { $case: "chunk", value: c } });
    call.end();
  });
/** Tags packed sequences given as their fields (names NUL-terminated in one string). */
const tag = (names: string, counts: number[], lengths: number[], weights: number[] = [], modelName = "ner") =>
  unary(h.crf.tag.bind(h.crf), {
    modelName,
    packed: { attributeNames: Buffer.from(names), attributeWeights: weights, itemAttributeCounts: counts, sequenceLengths: lengths },
    includeProbability: false,
    includeMarginals: false,
  });

const I = status.INVALID_ARGUMENT;
const cases: [string, () => Promise<unknown>, number, RegExp | string][] = [
  // CSV shape
  ["empty training file", () => crfTrain(""), I, "no training data"],
  ["header only", () => crfTrain(nerHeader), I, "header but no data rows"],
  ["missing column", () => crfTrain(nerHeader.replace(",lemma,", ",lemmas,") + nerRows), I, 'missing column "lemma"'],
  ["missing tag column", () => crfTrain(",lemma,next-lemma,sentence_idx\n0,a,b,1\n"), I, 'missing column "tag"'],
  ["extra field in a row", () => crfTrain(nerHeader + nerRows.replace("\n", ",extra\n")), I, /line 2: .*/],
  ["missing field in a row", () => crfTrain(nerHeader + "0,a,b\n"), I, /line 2:/],
  ["duplicated column", () => crfTrain(nerHeader.replace(",word,", ",lemma,") + nerRows), I, /column "lemma" appears twice/],
  ["quoted newline breaking the row count", () => crfTrain(nerHeader + '0,"a\nb",c\n'), I, /line \d+:/],
  ["unclosed quote", () => crfTrain(nerHeader + nerRows + '9,"open'), I, /[Qq]uote/],
  ["invalid UTF-8", () => crfTrain(Buffer.concat([Buffer.from(nerHeader + nerRows), Buffer.from([0xff, 0xfe, 0x0a])])), I, /line 41: text is not valid UTF-8/],
  ["empty tag", () => crfTrain(nerHeader + nerRows.replace(/,O\n/, ",\n")), I, /column "tag" is empty/],
  ["empty sentence_idx", () => crfTrain(nerHeader + withField(nerRows, 1, "sentence_idx", "")), I, /"sentence_idx" is empty/],
  ["50 MB of garbage streamed", () => crfTrain(randomBytes(50 * 1024 * 1024)), status.RESOURCE_EXHAUSTED, "exceeds the server's limit"],
  ["a message over the size limit", () => crfPredict(Buffer.alloc(5 * 1024 * 1024, 0x61)), status.RESOURCE_EXHAUSTED, /[Rr]eceived message larger than max/],
  ["BOM plus garbage predict file", () => crfPredict("\ufeffhello\n"), I, /missing column/],
  ["predict file with no rows", () => crfPredict(nerHeader), I, "header but no data rows"],
  ["empty predict file", () => crfPredict(""), I, "the CSV is empty"],
  // iris / XGBoost data
  ["non-numeric feature", () => xgbTrain(irisHeader + "5.1,abc,1.4,0.2,setosa\n"), I, /line 2, column "sepal_width": expected a finite number/],
  ["NaN feature", () => xgbTrain(irisHeader + "5.1,NaN,1.4,0.2,setosa\n"), I, /line 2, column "sepal_width"/],
  ["Inf feature", () => xgbPredictCsv(irisHeader + "5.1,3.5,Infinity,0.2,setosa\n"), I, /column "petal_length"/],
  ["empty label", () => xgbTrain(irisHeader + "5.1,3.5,1.4,0.2,\n"), I, /the label is empty/],
  ["wrong feature count (matrix)", () => xgbPredictMatrix(1, 3, [1, 2, 3]), I, "expects 4 features per row, got 3"],
  ["values do not match rows × cols", () => xgbPredictMatrix(2, 4, [1, 2, 3, 4]), I, "expected rows × cols = 8 values, got 4"],
  ["zero rows", () => xgbPredictMatrix(0, 4, []), I, "matrix.rows: must be > 0"],
  ["unknown output", () => xgbPredictMatrix(1, 4, [1, 2, 3, 4], 99 as PredictOutput), I, "output: unknown value 99"],
  ["predict CSV missing a feature column", () => xgbPredictCsv("a,b\n1,2\n"), I, 'missing column "sepal_length"'],
  [
    "more classes than num_class",
    () => xgbTrain(irisHeader + "1,2,3,4,a\n1,2,3,4,b\n1,2,3,4,c\n1,2,3,4,d\n1,2,3,4,e\n", { preset: "iris" }),
    I,
    /labels\[\d+\]: expected a class index in \[0, 2\]/,
  ],
  // parameters
  [
    "unknown CRF parameter",
    () => crfTrain(ner, { parameters: { c3: "1" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }),
    I,
    "parameters.c3: unknown parameter of lbfgs",
  ],
  ["out-of-range CRF parameter", () => crfTrain(ner, { parameters: { max_iterations: "-5" } }), I, "parameters.max_iterations: expected a number >= 0"],
  ["non-numeric CRF parameter", () => crfTrain(ner, { parameters: { variance: "big" } }), I, "parameters.variance: expected a finite number"],
  [
    "CRF threads out of range",
    () => crfTrain(ner, { parameters: { threads: "0" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_LBFGS }),
    I,
    "parameters.threads: expected an integer in [1, 64]",
  ],
  [
    "CRF threads of an online algorithm",
    () => crfTrain(ner, { parameters: { threads: "2" }, algorithm: CrfAlgorithm.CRF_ALGORITHM_AROW }),
    I,
    "parameters.threads: unknown parameter of arow",
  ],
  ["unknown algorithm value", () => crfTrain(ner, { algorithm: 42 }), I, "algorithm: unknown value 42"],
  ["test fraction out of range", () => crfTrain(ner, { testFraction: 0.95 }), I, "test_fraction: expected a number in [0, 0.9]"],
  ["unknown XGBoost parameter", () => xgbTrain(iris, { parameters: { max_dept: "3" } }), I, "parameters.max_dept: unknown XGBoost parameter"],
  ["XGBoost parameter value it rejects", () => xgbTrain(iris, { parameters: { tree_method: "fancy" } }), I, "XGBoost rejected the training"],
  ["negative max_depth", () => xgbTrain(iris, { parameters: { max_depth: "-3" } }), I, "parameters.max_depth: expected an integer in [0, 32]"],
  [
    "num_parallel_tree=1000000 (one round would run for minutes)",
    () => xgbTrain(iris, { parameters: { num_parallel_tree: "1000000" } }),
    I,
    "parameters.num_parallel_tree: expected an integer in [1, 1000]",
  ],
  ["max_bin=2^31-1", () => xgbTrain(iris, { parameters: { max_bin: String(2 ** 31 - 1) } }), I, "parameters.max_bin: expected an integer in [2, 65536]"],
  ["eta=nan", () => xgbTrain(iris, { parameters: { eta: "nan" } }), I, 'parameters.eta: expected a finite number, got "nan"'],
  ["eta=inf", () => xgbTrain(iris, { parameters: { eta: "inf" } }), I, 'parameters.eta: expected a finite number, got "inf"'],
  ["zero rounds", () => xgbTrain(iris, { numRounds: 0 }), I, "num_rounds"],
  ["unknown XGBoost preset", () => xgbTrain(iris, { preset: "wine" }), I, 'unknown preset "wine"'],
  // model names
  ...(["", "..", "a/b", "x".repeat(1000), "bad\u0007name", "..\\x", " lead"] as const).map((name): [string, () => Promise<unknown>, number, string] => [
    `model name ${JSON.stringify(name.length > 20 ? name.slice(0, 20) + "…" : name)}`,
    () => getModel(name),
    I,
    "is not a valid model name",
  ]),
  ["training under an invalid name", () => crfTrain(ner, { modelName: "../../etc/passwd" }), I, "is not a valid model name"],
  ["unknown model", () => crfPredict(nerHeader + nerRows, "missing"), status.NOT_FOUND, "model 'missing' not found"],
  ["CSV predict on a model of the other kind", () => crfPredict(nerHeader + nerRows, "iris"), status.FAILED_PRECONDITION, "is a xgboost model, not crf"],
  // tagging
  ["tag with no sequences", () => tag("", [], []), I, "packed.sequence_lengths: at least one sequence is required"],
  ["tag attribute without a name", () => tag("\0", [1], [1]), I, "packed.attributeNames: attribute 0 (sequence 0, item 0, attribute 0) has an empty name"],
  [
    "tag attribute with NaN weight",
    () => tag("a\0", [1], [1], [Number.NaN]),
    I,
    "packed.attributeWeights: attribute 0 (sequence 0, item 0, attribute 0) is not finite",
  ],
  // imports
  ["import of random bytes", () => importModel(ModelKind.MODEL_KIND_CRF, randomBytes(4096)), I, "not a CRFsuite model"],
  [
    "import of a truncated CRF model",
    async () => importModel(ModelKind.MODEL_KIND_CRF, (await exportBytes("ner")).subarray(0, 1000)),
    I,
    "not a CRFsuite model",
  ],
  ["import of an XGBoost model as CRF", async () => importModel(ModelKind.MODEL_KIND_CRF, await exportBytes("iris")), I, "not a CRFsuite model"],
  ["import of a CRF model as XGBoost", async () => importModel(ModelKind.MODEL_KIND_XGBOOST, await exportBytes("ner"), "iris"), I, "not an XGBoost model"],
  [
    "import of a truncated XGBoost model",
    async () => importModel(ModelKind.MODEL_KIND_XGBOOST, (await exportBytes("iris")).subarray(0, 100), "iris"),
    I,
    "not an XGBoost model",
  ],
  // streams
  ["train stream without a header", () => bidi(h.crf.train(), [{ payload: { $case: "csvChunk", value: ner } }]), I, "first message must be the header"],
  [
    "train stream with two headers",
    () => bidi(h.xgb.train(), [...xgbTrainRequests({ modelName: "bad", preset: "iris" }, iris), xgbTrainRequests({ modelName: "bad" }, Buffer.alloc(0))[0]]),
    I,
    "the header was sent twice",
  ],
  ["empty text", () => unary(h.text.countWords.bind(h.text), { text: "" }), I, "Empty input string"],
  // requests that do not decode: the caller's fault, INVALID_ARGUMENT (grpc-js alone answers INTERNAL)
  [
    "int64 shape past 2^53 (shape [2^62, 4])",
    () => rawCall("/inference.GRPCInferenceService/ModelInfer", hugeShapeRequest()),
    I,
    /^request: not a valid \/inference\.GRPCInferenceService\/ModelInfer message: .*MAX_SAFE_INTEGER/,
  ],
  [
    "bytes that are no protobuf message",
    () => rawCall("/mlbridge.v1.TextService/CountWords", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1])),
    I,
    /^request: not a valid \/mlbridge\.v1\.TextService\/CountWords message/,
  ],
];

/** A unary call with the request's bytes as given (no client-side encoding). */
function rawCall(method: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    h.text.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

/** ModelInfer for model "iris" with one FP32 input whose shape is [2^62, 4], written by hand (field numbers of grpc_predict_v2.proto). */
function hugeShapeRequest(): Buffer {
  const varint = (n: bigint) => {
    const out: number[] = [];
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return Buffer.from(out);
  };
  const field = (no: number, payload: Buffer) => Buffer.concat([varint(BigInt((no << 3) | 2)), varint(BigInt(payload.length)), payload]);
  const shape = Buffer.concat([varint(1n << 62n), varint(4n)]);
  const tensor = Buffer.concat([field(1, Buffer.from("input")), field(2, Buffer.from("FP32")), field(3, shape)]);
  return Buffer.concat([field(1, Buffer.from("iris")), field(5, tensor)]);
}

async function exportBytes(name: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const call = h.models.exportModel({ name, format: 0 });
    call.on("data", (m: { chunk: Buffer }) => parts.push(m.chunk));
    call.on("error", reject);
    call.on("end", () => resolve(Buffer.concat(parts)));
  });
}

describe(`bad-input corpus (${cases.length} cases)`, () => {
  it("has at least 40 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });
  for (const [name, call, code, message] of cases) {
    it(name, async () => {
      await expectStatus(call(), code, message);
      // The server still answers, and nothing stored changed.
      const words = await unary(h.text.countWords.bind(h.text), { text: "still alive" });
      expect(words.totalWords).toBe(2);
      expect(await storeSnapshot()).toBe(snapshot);
    });
  }
});
