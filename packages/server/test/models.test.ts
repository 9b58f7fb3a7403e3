import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { status, type ClientReadableStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelFormat, type ExportModelResponse, type ImportModelRequest, type ImportModelResponse } from "../src/generated/mlbridge/v1/model_service";
import { ModelKind } from "../src/generated/mlbridge/v1/types";
import { PredictOutput } from "../src/generated/mlbridge/v1/xgboost_service";
import { bidi, dataFile, crfTrainRequests, expectStatus, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";

let h: Harness;
const iris = readFileSync(dataFile("iris.csv"));
const ner = readFileSync(dataFile("ner.csv"));
const predictCsv = readFileSync(dataFile("predict.csv"));

beforeAll(async () => {
  h = await startHarness();
  await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris", preset: "iris" }, iris));
  await bidi(h.crf.train(), crfTrainRequests({ modelName: "ner", featurePreset: "book", parameters: { max_iterations: "5" } }, ner));
});
afterAll(() => h.close());

function exportModel(name: string, format = ModelFormat.MODEL_FORMAT_UNSPECIFIED): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const call: ClientReadableStream<ExportModelResponse> = h.models.exportModel({ name, format });
    call.on("data", (m: ExportModelResponse) => parts.push(m.chunk));
    call.on("error", reject);
    call.on("end", () => resolve(Buffer.concat(parts)));
  });
}

function importModel(header: Partial<Extract<ImportModelRequest["payload"], { $case: "header" }>["value"]>, bytes: Buffer): Promise<ImportModelResponse> {
  return new Promise((resolve, reject) => {
    const call = h.models.importModel((err, res) => (err ? reject(err) : resolve(res!)));
    call.write({
      payload: {
        $case: "header",
        value: { name: "", kind: ModelKind.MODEL_KIND_UNSPECIFIED, format: 0, classNames: [], featureTemplate: undefined, failIfExists: false, ...header },
      },
    });
    for (let i = 0; i < bytes.length; i += 100_000) call.write({ payload: { $case: "chunk", value: bytes.subarray(i, i + 100_000) } });
    call.end();
  });
}

const predictIris = (modelName: string) =>
  unary(h.xgb.predict.bind(h.xgb), { modelName, input: { $case: "csv", value: predictCsv }, output: PredictOutput.PREDICT_OUTPUT_PROBABILITIES });

describe("ModelService", () => {
  it("lists and describes models", async () => {
    const all = await unary(h.models.listModels.bind(h.models), { kind: ModelKind.MODEL_KIND_UNSPECIFIED });
    expect(all.models.map((m) => m.name)).toEqual(["iris", "ner"]);
    const crf = await unary(h.models.listModels.bind(h.models), { kind: ModelKind.MODEL_KIND_CRF });
    expect(crf.models.map((m) => m.name)).toEqual(["ner"]);
    const got = await unary(h.models.getModel.bind(h.models), { name: "iris" });
    expect(got.model!.kind).toBe(ModelKind.MODEL_KIND_XGBOOST);
    expect(got.model!.createdAt).toBeInstanceOf(Date);
    expect(got.model!.metrics["test-merror"]).toBeGreaterThanOrEqual(0);
  });

  it("exports and re-imports models (UBJ, JSON, CRFsuite) that predict the same", async () => {
    const want = await predictIris("iris");
    for (const format of [ModelFormat.MODEL_FORMAT_XGBOOST_UBJ, ModelFormat.MODEL_FORMAT_XGBOOST_JSON]) {
      const bytes = await exportModel("iris", format);
      if (format === ModelFormat.MODEL_FORMAT_XGBOOST_JSON) expect(JSON.parse(bytes.toString()).learner).toBeDefined();
      const res = await importModel({ name: `iris-copy-${format}`, kind: ModelKind.MODEL_KIND_XGBOOST }, bytes);
      expect(res.model!.labels).toEqual(["setosa", "versicolor", "virginica"]);
      const got = await predictIris(`iris-copy-${format}`);
      expect(got.values).toEqual(want.values);
      expect(got.classNames).toEqual(["setosa"]);
    }
    const crf = await exportModel("ner");
    expect(crf.subarray(0, 4).toString()).toBe("lCRF");
    const res = await importModel({ name: "ner-copy", kind: ModelKind.MODEL_KIND_CRF }, crf);
    expect(res.model!.sha256).toBe((await unary(h.models.getModel.bind(h.models), { name: "ner" })).model!.sha256);
    const csv = readFileSync(dataFile("ner_predict.csv"));
    const a = await unary(h.crf.predict.bind(h.crf), { modelName: "ner", csv });
    const b = await unary(h.crf.predict.bind(h.crf), { modelName: "ner-copy", csv });
    expect(b.labels).toEqual(a.labels);
  });

  it("an import of garbage, a truncated model or the other kind is rejected and leaves the old model intact", async () => {
    const before = await unary(h.models.getModel.bind(h.models), { name: "iris" });
    const ubj = await exportModel("iris");
    const crf = await exportModel("ner");
    await expectStatus(
      importModel({ name: "iris", kind: ModelKind.MODEL_KIND_XGBOOST }, Buffer.from("garbage".repeat(100))),
      status.INVALID_ARGUMENT,
      /not an XGBoost model/,
    );
    await expectStatus(
      importModel({ name: "iris", kind: ModelKind.MODEL_KIND_XGBOOST }, ubj.subarray(0, ubj.length >> 1)),
      status.INVALID_ARGUMENT,
      /not an XGBoost model/,
    );
    await expectStatus(importModel({ name: "iris", kind: ModelKind.MODEL_KIND_XGBOOST }, crf), status.INVALID_ARGUMENT, /not an XGBoost model/);
    await expectStatus(importModel({ name: "ner", kind: ModelKind.MODEL_KIND_CRF }, ubj), status.INVALID_ARGUMENT, /not a CRFsuite model/);
    await expectStatus(
      importModel({ name: "ner", kind: ModelKind.MODEL_KIND_CRF }, crf.subarray(0, crf.length - 100)),
      status.INVALID_ARGUMENT,
      /not a CRFsuite model/,
    );
    await expectStatus(importModel({ name: "x", kind: ModelKind.MODEL_KIND_UNSPECIFIED }, crf), status.INVALID_ARGUMENT, /header\.kind: required/);
    await expectStatus(importModel({ name: "iris", kind: ModelKind.MODEL_KIND_XGBOOST }, Buffer.alloc(0)), status.INVALID_ARGUMENT, /no model bytes/);
    const after = await unary(h.models.getModel.bind(h.models), { name: "iris" });
    expect(after.model!.sha256).toBe(before.model!.sha256);
    expect((await predictIris("iris")).classNames).toEqual(["setosa"]);
  });

  it("deletes models", async () => {
    await unary(h.models.deleteModel.bind(h.models), { name: "ner-copy" });
    await expectStatus(unary(h.models.getModel.bind(h.models), { name: "ner-copy" }), status.NOT_FOUND, "not found");
    await expectStatus(unary(h.models.deleteModel.bind(h.models), { name: "ner-copy" }), status.NOT_FOUND, "not found");
  });

  it("rejects invalid model names", async () => {
    for (const name of ["", "..", "a/b", "x".repeat(1000), "a\u0000b", ".hidden"]) {
      await expectStatus(unary(h.models.getModel.bind(h.models), { name }), status.INVALID_ARGUMENT, "is not a valid model name");
    }
  });

  it("a restarted server finds every model, and leaves no temporary files", async () => {
    const before = await unary(h.models.listModels.bind(h.models), { kind: 0 });
    const dir = h.modelDir;
    await h.close(true);
    h = await startHarness([], { modelDir: dir });
    const after = await unary(h.models.listModels.bind(h.models), { kind: 0 });
    expect(after.models.map((m) => [m.name, m.sha256])).toEqual(before.models.map((m) => [m.name, m.sha256]));
    expect((await predictIris("iris")).classNames).toEqual(["setosa"]);
    expect(readdirSync(path.join(dir, "tmp"))).toEqual([]);
  });
});
