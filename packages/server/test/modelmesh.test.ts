/**
 * The ModelMesh runtime SPI (mmesh.ModelRuntime on --modelmesh-port), called
 * as ModelMesh calls it: runtimeStatus at start, loadModel with the modelKey
 * JSON (the storage helper's local path, or the object in the key's bucket on
 * versitygw), inference on the V2 data endpoint with the mm-model-id header,
 * unloadModel, the cancelled-load rule, sizes and capacity, and bad keys.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRPCInferenceServiceClient } from "../src/generated/inference/grpc_predict_v2";
import { type LoadModelRequest, ModelRuntimeClient, RuntimeStatusResponse_Status } from "../src/generated/mmesh/model-runtime";
import { expectStatus, startHarness, unary, type Harness } from "./helpers";
import { IRIS_ROWS, irisInferRequest, type ModelFiles, makeModelFiles } from "./model-files";
import { haveVersitygw, type ObjectStore, startObjectStore } from "./objectstore";

const CAPACITY = 256 * 1024 * 1024;
let files: ModelFiles;
let dir: string;
let h: Harness;
let mm: ModelRuntimeClient;
let v2: GRPCInferenceServiceClient;

beforeAll(async () => {
  files = await makeModelFiles();
  dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-mm-"));
  // What ModelMesh's storage helper leaves: /models/<id>/ with the model's files.
  mkdirSync(path.join(dir, "iris-local__isvc-1"));
  writeFileSync(path.join(dir, "iris-local__isvc-1", "model.json"), files.xgboostJson);
  mkdirSync(path.join(dir, "ner__isvc-2"));
  writeFileSync(path.join(dir, "ner__isvc-2", "model.crfsuite"), files.crfsuite);
  writeFileSync(path.join(dir, "corrupt.json"), "{ not a model");
  h = await startHarness(["--modelmesh-port", "0", "--modelmesh-capacity-bytes", String(CAPACITY)]);
  expect(h.server.modelmeshPort).toBeGreaterThan(0);
  mm = new ModelRuntimeClient(`127.0.0.1:${h.server.modelmeshPort}`, credentials.createInsecure());
  v2 = new GRPCInferenceServiceClient(h.address, credentials.createInsecure());
}, 120_000);
afterAll(async () => {
  mm?.close();
  v2?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

const key = (type: string, extra: object = {}) => JSON.stringify({ model_type: { name: type }, ...extra });
const load = (req: Partial<LoadModelRequest>, opts: object = {}) =>
  unary(mm.loadModel.bind(mm), { modelId: "", modelType: "", modelPath: "", modelKey: "", ...req }, new Metadata(), opts);
const unload = (modelId: string) => unary(mm.unloadModel.bind(mm), { modelId });
const size = (modelId: string) => unary(mm.modelSize.bind(mm), { modelId });
/** ModelInfer as ModelMesh forwards it: the id in mm-model-id, the client's name (the vmodel) in mm-vmodel-id and model_name. */
const meshInfer = (id: string, vmodel = "my-isvc") => {
  const md = new Metadata();
  md.set("mm-model-id", id);
  md.set("mm-vmodel-id", vmodel);
  return unary(v2.modelInfer.bind(v2), irisInferRequest(vmodel, IRIS_ROWS), md);
};
const classes = (res: Awaited<ReturnType<typeof meshInfer>>) => res.outputs.find((o) => o.name === "predict")!.contents!.int64Contents;

describe("mmesh.ModelRuntime", () => {
  it("runtimeStatus: READY with the capacity, limits, version and the V2 methods' id injection path", async () => {
    const s = await unary(mm.runtimeStatus.bind(mm), {});
    expect(s.status).toBe(RuntimeStatusResponse_Status.READY);
    expect(s.capacityInBytes).toBe(CAPACITY);
    expect(s.maxLoadingConcurrency).toBeGreaterThan(0);
    expect(s.modelLoadingTimeoutMs).toBeGreaterThan(0);
    expect(s.defaultModelSizeInBytes).toBeGreaterThan(0);
    expect(s.runtimeVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(s.limitModelConcurrency).toBe(false);
    expect(s.methodInfos["inference.GRPCInferenceService/ModelInfer"].idInjectionPath).toEqual([1]);
  });

  it("loads from the storage helper's local folder, serves V2 ModelInfer by the mm-model-id header, reports the size, unloads", async () => {
    const id = "iris-local__isvc-1";
    const res = await load({
      modelId: id,
      modelType: "xgboost",
      modelPath: path.join(dir, id),
      modelKey: key("xgboost", { disk_size_bytes: files.xgboostJson.length }),
    });
    expect(res.sizeInBytes).toBeGreaterThanOrEqual(files.xgboostJson.length);
    expect((await size(id)).sizeInBytes).toBe(res.sizeInBytes);
    const answer = await meshInfer(id);
    expect(classes(answer)).toEqual([0, 1, 2]);
    expect(answer.modelName).toBe("my-isvc");
    // ModelMesh's id injection instead of the header: model_name is the id.
    expect(classes(await unary(v2.modelInfer.bind(v2), irisInferRequest(id, IRIS_ROWS)))).toEqual([0, 1, 2]);
    // Loading a loaded id again answers at once with the same size.
    expect((await load({ modelId: id, modelPath: path.join(dir, id), modelKey: key("xgboost") })).sizeInBytes).toBe(res.sizeInBytes);
    // Models ModelMesh loads stay out of the store.
    expect((await unary(h.models.listModels.bind(h.models), { kind: 0 })).models.map((m) => m.name)).not.toContain(id);
    await unload(id);
    await expectStatus(meshInfer(id), status.NOT_FOUND, `model '${id}' not found`);
    await expectStatus(size(id), status.NOT_FOUND, "is not loaded");
    await unload(id); // unknown or already unloaded: fine
  });

  it("loads a CRFsuite model (model_type crfsuite) and answers ModelMetadata for it", async () => {
    const id = "ner__isvc-2";
    await load({ modelId: id, modelPath: path.join(dir, id), modelKey: key("crfsuite") });
    const md = new Metadata();
    md.set("mm-model-id", id);
    const meta = await unary(v2.modelMetadata.bind(v2), { name: "ner-isvc", version: "" }, md);
    expect(meta.platform).toBe("crfsuite");
    expect(meta.outputs.map((o) => o.name)).toContain("labels");
    await unload(id);
  });

  it("predictModelSize: from disk_size_bytes, else the default", async () => {
    const s = await unary(mm.runtimeStatus.bind(mm), {});
    const req = { modelId: "p", modelType: "", modelPath: "x" };
    expect((await unary(mm.predictModelSize.bind(mm), { ...req, modelKey: key("xgboost", { disk_size_bytes: 1000 }) })).sizeInBytes).toBe(2000);
    expect((await unary(mm.predictModelSize.bind(mm), { ...req, modelKey: key("xgboost") })).sizeInBytes).toBe(s.defaultModelSizeInBytes);
  });

  it("a load cancelled by ModelMesh and then unloaded leaves nothing loaded", async () => {
    const id = "iris-local__isvc-1";
    const call = load({ modelId: id, modelPath: path.join(dir, id), modelKey: key("xgboost") }, { deadline: Date.now() + 30 });
    await expectStatus(call, status.DEADLINE_EXCEEDED, "");
    await unload(id);
    // The import (a worker process) may still be finishing: it must not land afterwards.
    await new Promise((r) => setTimeout(r, 1000));
    await expectStatus(size(id), status.NOT_FOUND, "is not loaded");
    await expectStatus(meshInfer(id), status.NOT_FOUND, "not found");
  });

  it("runtimeStatus purges every loaded model before READY", async () => {
    const id = "iris-local__isvc-1";
    await load({ modelId: id, modelPath: path.join(dir, id), modelKey: key("xgboost") });
    expect((await unary(mm.runtimeStatus.bind(mm), {})).status).toBe(RuntimeStatusResponse_Status.READY);
    await expectStatus(size(id), status.NOT_FOUND, "is not loaded");
  });

  it("refuses bad keys and unknown types with INVALID_ARGUMENT naming the field, a missing model with NOT_FOUND, and keeps serving", async () => {
    const p = path.join(dir, "iris-local__isvc-1");
    await expectStatus(load({ modelId: "a", modelPath: p, modelKey: "{not json" }), status.INVALID_ARGUMENT, /^modelKey: not JSON/);
    await expectStatus(load({ modelId: "a", modelPath: p, modelKey: "[1]" }), status.INVALID_ARGUMENT, "modelKey: expected a JSON object");
    await expectStatus(
      load({ modelId: "a", modelPath: p, modelKey: key("onnx") }),
      status.INVALID_ARGUMENT,
      'modelKey.model_type.name: unknown model type "onnx"',
    );
    await expectStatus(
      load({ modelId: "a", modelPath: p, modelKey: JSON.stringify({ model_type: "xgboost" }) }),
      status.INVALID_ARGUMENT,
      "modelKey.model_type:",
    );
    await expectStatus(load({ modelId: "a", modelPath: p, modelKey: JSON.stringify({}) }), status.INVALID_ARGUMENT, "modelKey.model_type.name: required");
    await expectStatus(
      load({ modelId: "a", modelPath: p, modelKey: key("xgboost", { disk_size_bytes: "big" }) }),
      status.INVALID_ARGUMENT,
      "modelKey.disk_size_bytes:",
    );
    await expectStatus(load({ modelId: "a", modelPath: p, modelKey: key("xgboost", { bucket: "Not_A_Bucket" }) }), status.INVALID_ARGUMENT, "modelKey.bucket:");
    await expectStatus(load({ modelId: "../a", modelPath: p, modelKey: key("xgboost") }), status.INVALID_ARGUMENT, /^modelId: /);
    await expectStatus(load({ modelId: "a", modelKey: key("xgboost") }), status.INVALID_ARGUMENT, "modelPath: required");
    await expectStatus(
      load({ modelId: "a", modelPath: "models/iris", modelKey: key("xgboost") }),
      status.INVALID_ARGUMENT,
      "modelKey.bucket: required when modelPath",
    );
    await expectStatus(load({ modelId: "a", modelPath: path.join(dir, "nothing"), modelKey: key("xgboost") }), status.NOT_FOUND, "no such file or folder");
    await expectStatus(
      load({ modelId: "a", modelPath: path.join(dir, "corrupt.json"), modelKey: key("xgboost") }),
      status.INVALID_ARGUMENT,
      /corrupt\.json: not an XGBoost model/,
    );
    await expectStatus(
      load({ modelId: "a", modelPath: path.join(dir, "corrupt.json"), modelKey: key("crfsuite") }),
      status.INVALID_ARGUMENT,
      /corrupt\.json: not a CRFsuite model/,
    );
    await expectStatus(size("a"), status.NOT_FOUND, "is not loaded");
    expect((await unary(mm.runtimeStatus.bind(mm), {})).status).toBe(RuntimeStatusResponse_Status.READY);
  });
});

describe.skipIf(!haveVersitygw)("mmesh.ModelRuntime with the storage helper disabled: the object in the key's bucket (versitygw)", () => {
  let s3: ObjectStore;
  let s: Harness;
  let client: ModelRuntimeClient;
  const saved = { ...process.env };
  beforeAll(async () => {
    s3 = await startObjectStore("modelmesh-example-models");
    await s3.client.send(new PutObjectCommand({ Bucket: "modelmesh-example-models", Key: "xgboost/iris/model.json", Body: files.xgboostJson }));
    Object.assign(process.env, s3.env);
    s = await startHarness(["--modelmesh-port", "0", "--s3-endpoint", s3.endpoint]);
    client = new ModelRuntimeClient(`127.0.0.1:${s.server.modelmeshPort}`, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await s?.close();
    await s3?.close();
    process.env = saved;
  });

  it("loads storage.path from the bucket (an object or its folder), serves it, unloads it; a missing key is NOT_FOUND", async () => {
    const mmKey = (extra: object = {}) =>
      JSON.stringify({ storage_key: "localMinIO", bucket: "modelmesh-example-models", model_type: { name: "xgboost" }, ...extra });
    const loadS3 = (modelId: string, modelPath: string) =>
      unary(client.loadModel.bind(client), { modelId, modelType: "xgboost", modelPath, modelKey: mmKey() });
    expect((await loadS3("iris-s3__isvc-1", "xgboost/iris/model.json")).sizeInBytes).toBeGreaterThan(0);
    expect((await loadS3("iris-s3__isvc-2", "xgboost/iris")).sizeInBytes).toBeGreaterThan(0);
    const data = new GRPCInferenceServiceClient(s.address, credentials.createInsecure());
    try {
      for (const id of ["iris-s3__isvc-1", "iris-s3__isvc-2"]) {
        const md = new Metadata();
        md.set("mm-model-id", id);
        const res = await unary(data.modelInfer.bind(data), irisInferRequest("", IRIS_ROWS), md);
        expect(res.outputs.find((o) => o.name === "predict")!.contents!.int64Contents).toEqual([0, 1, 2]);
        expect(res.modelName).toBe(id);
      }
    } finally {
      data.close();
    }
    await unary(client.unloadModel.bind(client), { modelId: "iris-s3__isvc-1" });
    await expectStatus(unary(client.modelSize.bind(client), { modelId: "iris-s3__isvc-1" }), status.NOT_FOUND, "is not loaded");
    await expectStatus(loadS3("gone", "xgboost/none/model.json"), status.NOT_FOUND, "s3://modelmesh-example-models/xgboost/none/model.json: no such object");
  });
});
