/**
 * The runtime seam: a model kind the server has never heard of, registered
 * from outside (a tiny "scale" runtime: the model is a number, inference
 * multiplies by it), is stored, listed, exported and deleted by ModelService
 * and served by the Open Inference Protocol over gRPC and HTTP, with no
 * server change. A store holding such a model opened without its runtime
 * skips it, logged, and serves the rest.
 */
import { Writable } from "node:stream";
import { readFileSync } from "node:fs";
import { credentials, status } from "@grpc/grpc-js";
import { InvalidInputError, RuntimeRegistry, crfRuntime, invalidField, requestedOutputs, xgboostRuntime, type ModelRuntime } from "@mlbridge/core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRPCInferenceServiceClient } from "../src/generated/inference/grpc_predict_v2";
import { ModelKind } from "../src/generated/mlbridge/v1/types";
import { bidi, dataFile, expectStatus, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";

interface ScaleModel {
  factor: number;
  disposed: boolean;
  dispose(): void;
}

const scaleModel = (bytes: Buffer): ScaleModel => {
  const factor = Number(bytes.toString("utf8"));
  if (!Number.isFinite(factor)) throw new InvalidInputError(`chunk: not a scale model: ${JSON.stringify(bytes.toString("utf8").slice(0, 20))}`);
  return {
    factor,
    disposed: false,
    dispose() {
      this.disposed = true;
    },
  };
};

/** A third model kind, in 30 lines: what docs/architecture.md walks through. */
const scaleRuntime: ModelRuntime<ScaleModel> = {
  kind: "scale",
  platform: "scale_text",
  formats: ["scale-text"],
  load: scaleModel,
  async import(bytes) {
    const model = scaleModel(bytes);
    return { model, bytes, format: "scale-text", parameters: { factor: String(model.factor) }, labels: [], featureNames: ["x"] };
  },
  export: (_model, stored) => stored(),
  async describe() {
    return { inputs: [{ name: "x", datatype: "FP32", shape: [-1] }], outputs: [{ name: "y", datatype: "FP32", shape: [-1] }] };
  },
  async infer(model, meta, inputs, outputs) {
    const x = inputs.find((i) => i.name === "x");
    if (!x || inputs.length !== 1) throw invalidField("inputs", "a scale model takes one input, 'x'");
    x.checkDatatype(["FP32"]);
    requestedOutputs(outputs, meta.name, ["y"], ["y"]);
    const values = x.floats();
    const floats = values instanceof Float32Array ? values : new Float32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    return [{ name: "y", shape: [floats.length], data: { datatype: "FP32", values: floats.map((v) => v * model.factor) } }];
  },
};

const registry = () => new RuntimeRegistry([crfRuntime, xgboostRuntime, scaleRuntime]);
const empty = {
  boolContents: [],
  intContents: [],
  int64Contents: [],
  uintContents: [],
  uint64Contents: [],
  fp32Contents: [],
  fp64Contents: [],
  bytesContents: [],
};

let h: Harness;
let oip: GRPCInferenceServiceClient;

async function saveScale(harness: Harness, name: string, text: string) {
  const store = harness.server.context.store;
  return store.withLock(name, async () => {
    const { model, bytes, ...fields } = await scaleRuntime.import(Buffer.from(text), undefined, {});
    return store.save({ name, kind: scaleRuntime.kind, ...fields, metrics: {} }, bytes, model);
  });
}

beforeAll(async () => {
  h = await startHarness([], { runtimes: registry() });
  oip = new GRPCInferenceServiceClient(h.address, credentials.createInsecure());
  await saveScale(h, "double", "2");
  await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris", preset: "iris" }, readFileSync(dataFile("iris.csv"))));
}, 60_000);

afterAll(async () => {
  oip?.close();
  await h?.close();
});

describe("a model kind registered from outside the server", () => {
  it("ModelService lists, describes and exports it", async () => {
    const list = await unary(h.models.listModels.bind(h.models), { kind: ModelKind.MODEL_KIND_UNSPECIFIED });
    const info = list.models.find((m) => m.name === "double")!;
    expect(info).toMatchObject({
      kind: ModelKind.MODEL_KIND_UNSPECIFIED,
      format: "scale-text",
      parameters: { factor: "2" },
      featureNames: ["x"],
      sizeBytes: 1,
    });
    const xgbOnly = await unary(h.models.listModels.bind(h.models), { kind: ModelKind.MODEL_KIND_XGBOOST });
    expect(xgbOnly.models.map((m) => m.name)).toEqual(["iris"]);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = h.models.exportModel({ name: "double", format: 0 });
      call.on("data", (r: { chunk: Buffer }) => chunks.push(r.chunk));
      call.on("error", reject);
      call.on("end", resolve);
    });
    expect(Buffer.concat(chunks).toString()).toBe("2");
  });

  it("the Open Inference Protocol serves it over gRPC and HTTP; its own errors keep their field", async () => {
    const meta = await unary(oip.modelMetadata.bind(oip), { name: "double", version: "" });
    expect(meta).toMatchObject({ platform: "scale_text", inputs: [{ name: "x", datatype: "FP32", shape: [-1] }], outputs: [{ name: "y" }] });
    const res = await unary(oip.modelInfer.bind(oip), {
      modelName: "double",
      modelVersion: "",
      id: "",
      parameters: {},
      outputs: [],
      rawInputContents: [],
      inputs: [{ name: "x", datatype: "FP32", shape: [3], parameters: {}, contents: { ...empty, fp32Contents: [1, 2, 3.5] } }],
    });
    expect(res.outputs[0].contents!.fp32Contents).toEqual([2, 4, 7]);
    const rest = await fetch(`http://127.0.0.1:${h.server.httpPort}/v2/models/double/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [2], data: [5, 6] }] }),
    });
    expect((await rest.json()).outputs[0].data).toEqual([10, 12]);
    await expectStatus(
      unary(oip.modelInfer.bind(oip), {
        modelName: "double",
        modelVersion: "",
        id: "",
        parameters: {},
        outputs: [],
        rawInputContents: [],
        inputs: [{ name: "z", datatype: "FP32", shape: [1], parameters: {}, contents: { ...empty, fp32Contents: [1] } }],
      }),
      status.INVALID_ARGUMENT,
      "inputs: a scale model takes one input, 'x'",
    );
    // The kind-specific services refuse it, naming both kinds.
    await expectStatus(
      unary(h.xgb.predict.bind(h.xgb), { modelName: "double", input: { $case: "matrix", value: { rows: 1, cols: 1, values: [1] } }, output: 0 }),
      status.FAILED_PRECONDITION,
      "model 'double' is a scale model, not xgboost",
    );
  });

  it("a restart reloads it through its runtime; without the runtime it is skipped, logged, and the rest is served", async () => {
    await saveScale(h, "triple", "3");
    await h.close(true);
    const again = await startHarness([], { modelDir: h.modelDir, runtimes: registry() });
    try {
      const loaded = await again.server.context.store.load("triple");
      expect((loaded.model as ScaleModel).factor).toBe(3);
    } finally {
      await again.close(true);
    }
    const lines: string[] = [];
    const log = pino(
      { level: "error" },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const plain = await startHarness([], { modelDir: h.modelDir, log });
    try {
      const names = (await unary(plain.models.listModels.bind(plain.models), { kind: 0 })).models.map((m) => m.name);
      expect(names).toEqual(["iris"]);
      expect(lines.some((l) => l.includes("a kind no runtime serves") && l.includes('"kind":"scale"'))).toBe(true);
    } finally {
      await plain.close(true);
    }
    h = await startHarness([], { modelDir: h.modelDir, runtimes: registry() }); // afterAll closes it
    oip.close();
    oip = new GRPCInferenceServiceClient(h.address, credentials.createInsecure());
    expect((await unary(h.models.listModels.bind(h.models), { kind: 0 })).models.map((m) => m.name)).toEqual(["double", "iris", "triple"]);
  });
});
