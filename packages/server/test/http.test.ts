/** HTTP beside gRPC: the V2 REST protocol (fetch and curl), the operator's endpoints, and the errors. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync } from "node:fs";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRPCInferenceServiceClient, type ModelInferResponse } from "../src/generated/inference/grpc_predict_v2";
import { bidi, crfTrainRequests, dataFile, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";
import { irisInferRequest } from "./model-files";

let h: Harness;
let base: string;
let oip: GRPCInferenceServiceClient;
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

beforeAll(async () => {
  h = await startHarness();
  base = `http://127.0.0.1:${h.server.httpPort}`;
  oip = new GRPCInferenceServiceClient(h.address, credentials.createInsecure());
  await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris", preset: "iris" }, readFileSync(dataFile("iris.csv"))));
  await bidi(
    h.crf.train(),
    crfTrainRequests({ modelName: "ner", featurePreset: "book", parameters: { max_iterations: "5" }, noHoldout: true }, readFileSync(dataFile("ner.csv"))),
  );
}, 120_000);

afterAll(async () => {
  oip?.close();
  await h?.close();
});

const get = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) as Record<string, unknown> };
};
const post = (path: string, body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
  get(path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
/** POST .../infer under the binary data extension: a JSON header, then `tail` as the binary part. */
const withBinary = (header: object, tail: string) =>
  post("/v2/models/iris/infer", JSON.stringify(header) + tail, {
    "content-type": "application/octet-stream",
    "inference-header-content-length": String(JSON.stringify(header).length),
  });
const irisInfer = (extra: object = {}) => ({ inputs: [{ name: "input", datatype: "FP32", shape: [3, 4], data: ROWS }], ...extra });

describe("V2 REST: health, metadata, models", () => {
  it("live, ready, server metadata and our model listing", async () => {
    expect((await get("/v2/health/live")).json()).toEqual({ live: true });
    expect((await get("/v2/health/ready")).json()).toEqual({ ready: true });
    const meta = (await get("/v2")).json();
    expect(meta).toMatchObject({ name: "mlbridge", extensions: ["model_repository"] });
    const models = (await get("/v2/models")).json().models as { name: string; kind: string; version: string }[];
    expect(models.map((m) => [m.name, m.kind])).toEqual([
      ["iris", "xgboost"],
      ["ner", "crf"],
    ]);
    expect(models[0].version).toBe("1"); // the store's version: the first one stored under its name
  });

  it("model metadata and readiness, with and without a version; the same as gRPC ModelMetadata", async () => {
    const rest = (await get("/v2/models/iris")).json();
    const grpc = await unary(oip.modelMetadata.bind(oip), { name: "iris", version: "" });
    expect(rest).toEqual(JSON.parse(JSON.stringify(grpc)));
    const version = (rest.versions as string[])[0];
    expect((await get(`/v2/models/iris/versions/${version}`)).status).toBe(200);
    expect((await get("/v2/models/iris/ready")).json()).toEqual({ name: "iris", ready: true });
    expect((await get(`/v2/models/iris/versions/${version}/ready`)).status).toBe(200);
    const notReady = await get("/v2/models/iris/versions/999/ready");
    expect(notReady.status).toBe(400);
    expect(notReady.json().error).toMatch(/model 'iris' version '999' is not ready/);
  });
});

describe("V2 REST: inference", () => {
  it("XGBoost FP32 rows (nested or flat): the same predictions as gRPC ModelInfer", async () => {
    const res = await post("/v2/models/iris/infer", irisInfer({ id: "req-1" }));
    expect(res.status).toBe(200);
    expect(res.type).toBe("application/json");
    const body = res.json() as {
      model_name: string;
      model_version: string;
      id: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
    expect(body).toMatchObject({ model_name: "iris", id: "req-1" });
    const flat = (await post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP32", shape: [3, 4], data: ROWS.flat() }] })).json();
    expect(flat.outputs).toEqual(body.outputs);
    const grpc: ModelInferResponse = await unary(oip.modelInfer.bind(oip), { ...irisInferRequest("iris", ROWS), id: "" });
    expect(body.outputs.map((o) => o.name)).toEqual(grpc.outputs.map((o) => o.name));
    expect(body.outputs[0]).toMatchObject({ datatype: "INT64", shape: [3], data: grpc.outputs[0].contents!.int64Contents });
    expect(body.outputs[1].data).toEqual(grpc.outputs[1].contents!.fp32Contents);
    expect(body.outputs[0].data[0]).toBe(0); // setosa
  });

  it("FP64 input and one requested output", async () => {
    const body = (
      await post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP64", shape: [1, 4], data: [ROWS[1]] }], outputs: [{ name: "predict" }] })
    ).json();
    expect(body.outputs).toEqual([expect.objectContaining({ name: "predict", datatype: "INT64", shape: [1], data: [2] })]);
  });

  it("CRF tokens as BYTES: the same labels as CrfService.Predict on the CSV", async () => {
    const csv = readFileSync(dataFile("ner_predict.csv"), "utf8").trimEnd().split("\n");
    const header = csv[0].split(",");
    const cols = ["lemma", "next-lemma"].map((c) => header.indexOf(c));
    const cells = csv.slice(1).flatMap((line) => cols.map((i) => line.split(",")[i]));
    const body = (await post("/v2/models/ner/infer", { inputs: [{ name: "tokens", datatype: "BYTES", shape: [csv.length - 1, 2], data: cells }] })).json() as {
      outputs: { name: string; data: string[] }[];
    };
    const labels = body.outputs.find((o) => o.name === "labels")!.data;
    const want = await unary(h.crf.predict.bind(h.crf), { modelName: "ner", csv: Buffer.from(csv.join("\n") + "\n") });
    expect(labels).toEqual(want.labels);
  });

  it("the binary data extension: raw FP32 and BYTES inputs in, raw outputs back; the same values as JSON", async () => {
    const binaryPost = async (header: object, parts: Buffer[]) => {
      const head = Buffer.from(JSON.stringify(header));
      const res = await fetch(`${base}/v2/models/iris/infer`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(head.length) },
        body: Buffer.concat([head, ...parts]),
      });
      const bytes = Buffer.from(await res.arrayBuffer());
      const n = Number(res.headers.get("inference-header-content-length") ?? bytes.length);
      return { status: res.status, header: JSON.parse(bytes.subarray(0, n).toString()), rest: bytes.subarray(n) };
    };
    const rows = Buffer.from(new Float32Array(ROWS.flat()).buffer);
    const json = (await post("/v2/models/iris/infer", irisInfer())).json() as { outputs: { name: string; data: number[] }[] };
    // Binary in, JSON out (no output asked for as binary).
    const jsonOut = await binaryPost({ inputs: [{ name: "input", datatype: "FP32", shape: [3, 4], parameters: { binary_data_size: rows.length } }] }, [rows]);
    expect(jsonOut.status).toBe(200);
    expect(jsonOut.header.outputs).toEqual(json.outputs);
    expect(jsonOut.rest.length).toBe(0);
    // Binary in, binary out (the request's binary_data_output, as tritonclient.http sends it).
    const res = await binaryPost(
      { parameters: { binary_data_output: true }, inputs: [{ name: "input", datatype: "FP32", shape: [3, 4], parameters: { binary_data_size: rows.length } }] },
      [rows],
    );
    const [predict, proba] = res.header.outputs as { name: string; data?: unknown; parameters: { binary_data_size: number } }[];
    expect(predict).toMatchObject({ name: "predict", datatype: "INT64", shape: [3], parameters: { binary_data_size: 24 } });
    expect(predict.data).toBeUndefined();
    expect(proba).toMatchObject({ name: "predict_proba", datatype: "FP32", shape: [3, 3], parameters: { binary_data_size: 36 } });
    expect(res.rest.length).toBe(24 + 36);
    expect([...new BigInt64Array(res.rest.buffer.slice(res.rest.byteOffset, res.rest.byteOffset + 24))].map(Number)).toEqual(json.outputs[0].data);
    expect([...new Float32Array(res.rest.buffer.slice(res.rest.byteOffset + 24, res.rest.byteOffset + 60))]).toEqual(json.outputs[1].data);
    // One output asked for as binary, the other as JSON.
    const mixed = await binaryPost(
      {
        inputs: [{ name: "input", datatype: "FP32", shape: [3, 4], parameters: { binary_data_size: rows.length } }],
        outputs: [
          { name: "predict", parameters: { binary_data: false } },
          { name: "predict_proba", parameters: { binary_data: true } },
        ],
      },
      [rows],
    );
    expect(mixed.header.outputs[0].data).toEqual(json.outputs[0].data);
    expect(mixed.rest.length).toBe(36);
    // CRF tokens as BYTES (4-byte little-endian length, then the bytes).
    const cells = ["London", "in", "in", "Friday"];
    const bytes = Buffer.concat(
      cells.map((c) => {
        const b = Buffer.alloc(4 + c.length);
        b.writeUInt32LE(c.length);
        b.write(c, 4);
        return b;
      }),
    );
    const head = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "tokens", datatype: "BYTES", shape: [2, 2], parameters: { binary_data_size: bytes.length } }],
        outputs: [{ name: "labels" }],
      }),
    );
    const crf = await fetch(`${base}/v2/models/ner/infer`, {
      method: "POST",
      headers: { "inference-header-content-length": String(head.length) },
      body: Buffer.concat([head, bytes]),
    });
    const viaJson = (
      await post("/v2/models/ner/infer", { inputs: [{ name: "tokens", datatype: "BYTES", shape: [2, 2], data: cells }], outputs: [{ name: "labels" }] })
    ).json();
    expect(await crf.json()).toEqual(viaJson);
  });

  it("curl, as the docs show it", async () => {
    // Asynchronously: the server runs in this process.
    const curl = async (...args: string[]) => (await promisify(execFile)("curl", ["-s", "--max-time", "10", ...args], { encoding: "utf8" })).stdout;
    const out = await curl("-H", "Content-Type: application/json", "-d", JSON.stringify(irisInfer()), `${base}/v2/models/iris/infer`);
    expect(JSON.parse(out).outputs[0].data).toEqual([0, 2, 1]);
    expect(await curl("-o", "/dev/null", "-w", "%{http_code}", `${base}/v2/health/ready`)).toBe("200");
  });
});

describe("V2 REST: the repository extension", () => {
  it("index, unload and load, as on gRPC", async () => {
    await post("/v2/models/iris/infer", irisInfer());
    let index = (await post("/v2/repository/index", {})).json() as unknown as { name: string; state: string }[];
    expect(index.find((e) => e.name === "iris")!.state).toBe("READY");
    expect((await post("/v2/repository/models/iris/unload", "", {})).status).toBe(200);
    index = (await post("/v2/repository/index", { ready: true })).json() as unknown as { name: string; state: string }[];
    expect(index.map((e) => e.name)).not.toContain("iris");
    expect((await post("/v2/repository/models/iris/load", "", {})).status).toBe(200);
    expect(h.server.context.store.cached("iris")).toBeDefined();
    const withParams = await post("/v2/repository/models/iris/load", { parameters: { config: "{}" } });
    expect(withParams.status).toBe(400);
    expect(withParams.json().error).toMatch(/^parameters: not supported \(got config\)/);
  });
});

describe("V2 REST: bad requests get the right status and a JSON error naming the field; the server keeps serving", () => {
  const cases: [string, () => Promise<{ status: number; json: () => Record<string, unknown> }>, number, RegExp][] = [
    ["malformed JSON", () => post("/v2/models/iris/infer", '{"inputs": ['), 400, /^the request body is not valid JSON/],
    [
      "wrong content type",
      () => post("/v2/models/iris/infer", JSON.stringify(irisInfer()), { "content-type": "text/plain" }),
      415,
      /expected Content-Type: application\/json, got "text\/plain"/,
    ],
    ["no inputs", () => post("/v2/models/iris/infer", { inputs: [] }), 400, /^inputs: expected a non-empty array/],
    [
      "a string in FP32 data",
      () => post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: [1, 2, "x", 4] }] }),
      400,
      /^inputs\[0\]\.data\[2\]: expected a finite number, got "x"/,
    ],
    [
      "shape lies about the data",
      () => post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP32", shape: [2, 4], data: [1, 2, 3, 4] }] }),
      400,
      /inputs\[0\]/,
    ],
    [
      "negative shape",
      () => post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4], data: [1, 2, 3, 4] }] }),
      400,
      /^inputs\[0\]\.shape: expected an array of non-negative integers/,
    ],
    [
      "unsupported datatype",
      () => post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP16", shape: [1], data: [1] }] }),
      400,
      /^inputs\[0\]\.datatype: "FP16" is not supported over JSON/,
    ],
    [
      "wrong feature count",
      () => post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }] }),
      400,
      /expects 4 features per row, got 3/,
    ],
    [
      "unknown output",
      () => post("/v2/models/iris/infer", irisInfer({ outputs: [{ name: "probabilites" }] })),
      400,
      /^outputs\[0\]\.name: model 'iris' has no output "probabilites"/,
    ],
    [
      "binary: header length past the body",
      () => post("/v2/models/iris/infer", "{}", { "inference-header-content-length": "10" }),
      400,
      /^Inference-Header-Content-Length: expected the JSON header's length in bytes \(0 to the body's 2\), got "10"/,
    ],
    [
      "binary: sizes that do not add up",
      () => withBinary({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } }] }, "x".repeat(20)),
      400,
      /^the binary part is 20 bytes but the inputs' binary_data_size add up to 16/,
    ],
    [
      "binary: a size past the binary part",
      () => withBinary({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } }] }, "x".repeat(8)),
      400,
      /^inputs\[0\]\.parameters\.binary_data_size: 16 bytes at offset 0 run past the binary part's 8 bytes/,
    ],
    [
      "binary: a size without a binary part",
      () => post("/v2/models/iris/infer", { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } }] }),
      400,
      /^inputs\[0\]\.parameters\.binary_data_size: the request has no binary part/,
    ],
    [
      "binary: raw bytes that lie about the shape",
      () => withBinary({ inputs: [{ name: "input", datatype: "FP32", shape: [2, 4], parameters: { binary_data_size: 16 } }] }, "x".repeat(16)),
      400,
      /inputs\[0\]|raw_input_contents\[0\]/,
    ],
    [
      "binary: a header on another endpoint",
      () => post("/v2/repository/index", "{}", { "inference-header-content-length": "2" }),
      400,
      /only for POST \/v2\/models\/\{model\}\/infer/,
    ],
    ["unknown model", () => post("/v2/models/nope/infer", irisInfer()), 404, /^model 'nope' not found/],
    ["unknown version", () => get("/v2/models/iris/versions/abc"), 404, /has no version 'abc'/],
    ["invalid model name", () => get("/v2/models/..%2Fetc"), 400, /is not a valid model name/],
    ["unknown endpoint", () => get("/v3/anything"), 404, /^no such endpoint: GET \/v3\/anything/],
    ["wrong method", () => get("/v2/models/iris/infer"), 405, /^GET is not allowed on \/v2\/models\/iris\/infer \(use POST\)/],
    ["a body over --max-message-bytes", () => post("/v2/models/iris/infer", "x".repeat(5 << 20)), 413, /over the server's limit of 4194304/],
  ];
  let small: Harness;
  beforeAll(async () => {
    small = await startHarness(["--max-message-bytes", String(4 << 20)], { modelDir: h.modelDir + "-small" });
  });
  afterAll(() => small?.close());
  for (const [name, call, code, message] of cases) {
    it(name, async () => {
      const saved = base;
      if (name.startsWith("a body over")) base = `http://127.0.0.1:${small.server.httpPort}`;
      try {
        const res = await call();
        expect(res.status).toBe(code);
        expect(res.json().error).toMatch(message);
      } finally {
        base = saved;
      }
      expect((await get("/v2/health/ready")).status).toBe(200);
    });
  }
});

describe("operator endpoints", () => {
  it("/healthz, /readyz and /metrics (on by default, with HTTP and RPC series)", async () => {
    expect(await get("/healthz")).toMatchObject({ status: 200, text: "ok\n" });
    expect(await get("/readyz")).toMatchObject({ status: 200, text: "ok\n" });
    await unary(h.text.countWords.bind(h.text), { text: "a b" });
    const metrics = await get("/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/mlbridge_rpc_duration_seconds_count\{method="\/mlbridge\.v1\.TextService\/CountWords",code="OK"\} 1/);
    expect(metrics.text).toMatch(/mlbridge_http_duration_seconds_count\{route="\/v2\/models\/\{model\}\/infer",code="200"\} \d+/);
    expect(metrics.text).toMatch(/mlbridge_http_duration_seconds_count\{route="\/v2\/models\/\{model\}\/infer",code="400"\} \d+/);
  });

  it("/metrics: per-model series, trainings by outcome (a cancelled one included, and logged), loaded models' bytes", async () => {
    const { captureLog } = await import("./helpers");
    const { log, entries } = captureLog();
    const m = await startHarness([], { log });
    try {
      await bidi(m.xgb.train(), xgbTrainRequests({ modelName: "iris-m", preset: "iris" }, readFileSync(dataFile("iris.csv"))));
      await unary(m.xgb.predict.bind(m.xgb), { modelName: "iris-m", input: { $case: "matrix", value: { rows: 1, cols: 4, values: ROWS[0] } }, output: 0 });
      await unary(m.xgb.predict.bind(m.xgb), { modelName: "nope", input: { $case: "matrix", value: { rows: 1, cols: 4, values: ROWS[0] } }, output: 0 }).catch(
        () => undefined,
      );
      // A training cancelled by its client: 100,000 rounds, cancelled once it runs.
      const call = m.xgb.train();
      call.on("error", () => undefined);
      const running = new Promise<void>((resolve) =>
        call.on(
          "data",
          (e: { event?: { $case: string; value: { stage?: string } } }) => e.event?.$case === "progress" && e.event.value.stage === "training" && resolve(),
        ),
      );
      for (const r of xgbTrainRequests({ modelName: "long", preset: "iris", numRounds: 100_000 }, readFileSync(dataFile("iris.csv")))) call.write(r);
      call.end();
      await running;
      call.cancel();
      for (let i = 0; i < 100 && !entries.some((e) => e.msg === "training ended" && e.outcome === "cancelled"); i++)
        await new Promise((r) => setTimeout(r, 20));
      const text = await (await fetch(`http://127.0.0.1:${m.server.httpPort}/metrics`)).text();
      expect(text).toMatch(/mlbridge_model_request_duration_seconds_count\{model="iris-m",method="Predict",code="OK"\} 1/);
      expect(text).toMatch(/mlbridge_model_request_duration_seconds_count\{model="iris-m",method="Train",code="OK"\} 1/);
      expect(text).toMatch(/mlbridge_model_request_duration_seconds_count\{model="nope",method="Predict",code="NOT_FOUND"\} 1/);
      expect(text).toMatch(/mlbridge_trainings_total\{kind="xgboost",outcome="ok"\} 1/);
      expect(text).toMatch(/mlbridge_trainings_total\{kind="xgboost",outcome="cancelled"\} 1/);
      expect(text).toMatch(/mlbridge_models_loaded_bytes [1-9]\d*/);
      const ended = entries.filter((e) => e.msg === "training ended");
      expect(ended.map((e) => [e.model, e.kind, e.outcome])).toEqual([
        ["iris-m", "xgboost", "ok"],
        ["long", "xgboost", "cancelled"],
      ]);
      expect(ended[1].seconds).toBeGreaterThan(0);
    } finally {
      await m.close();
    }
  });

  it("per-model series are capped: past 100 model names, calls count under _other", async () => {
    const m = await startHarness();
    try {
      for (let i = 0; i < 105; i++) await unary(m.models.getModel.bind(m.models), { name: `m${i}` }).catch(() => undefined);
      const text = await (await fetch(`http://127.0.0.1:${m.server.httpPort}/metrics`)).text();
      const models = new Set([...text.matchAll(/mlbridge_model_request_duration_seconds_count\{model="([^"]+)"/g)].map((x) => x[1]));
      expect(models.size).toBe(101);
      expect(models.has("_other")).toBe(true);
      expect(text).toMatch(/mlbridge_model_request_duration_seconds_count\{model="_other",method="GetModel",code="NOT_FOUND"\} 5/);
    } finally {
      await m.close();
    }
  });

  it("with --auth-token: everything but the health endpoints needs the bearer token; the scheme is case-insensitive", async () => {
    const secured = await startHarness(["--auth-token", "s3cret"]);
    const at = `http://127.0.0.1:${secured.server.httpPort}`;
    try {
      expect((await fetch(`${at}/v2/health/ready`)).status).toBe(200);
      expect((await fetch(`${at}/healthz`)).status).toBe(200);
      const missing = await fetch(`${at}/v2/models`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe("Bearer");
      expect(await missing.json()).toEqual({ error: "missing bearer token (header 'Authorization: Bearer <token>')" });
      expect((await fetch(`${at}/metrics`, { headers: { authorization: "Bearer nope" } })).status).toBe(401);
      expect((await fetch(`${at}/v2/models`, { headers: { authorization: "bearer s3cret" } })).status).toBe(200);
      const md = new Metadata();
      md.set("authorization", "Bearer s3cret");
      expect((await unary(secured.text.countWords.bind(secured.text), { text: "a" }, md)).totalWords).toBe(1);
    } finally {
      await secured.close();
    }
  });

  it("--http-port off serves no HTTP; a port in use is a clear start-up error", async () => {
    const off = await startHarness(["--http-port", "off"]);
    expect(off.server.httpPort).toBeUndefined();
    await off.close();
    await expect(startHarness(["--http-port", String(h.server.httpPort)])).rejects.toThrow(
      new RegExp(`--http-port ${h.server.httpPort}: 127\\.0\\.0\\.1:${h.server.httpPort} is in use`),
    );
    void status;
  });
});
