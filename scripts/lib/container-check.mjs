#!/usr/bin/env node
// The client half of scripts/container-test.sh: talks to an mlbridge server
// running in a container (with --network host) from this machine, with the
// repository's built clients (packages/server/dist/generated).
//   container-check.mjs train GRPC_PORT MODEL_FILE   health SERVING, train iris, predict, export the model to MODEL_FILE
//   container-check.mjs loaded GRPC_PORT HTTP_PORT NAME   health SERVING, the --load'ed model answers V2 REST and gRPC ModelInfer
// Exits non-zero with a message on any failure.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(path.join(root, "packages/server/package.json"));
const grpc = require("@grpc/grpc-js");
const { loadSync } = require("@grpc/proto-loader");
const { protoPath: healthProto } = require("grpc-health-check");
const gen = (p) => require(path.join(root, "packages/server/dist/generated", p));
const { XgboostServiceClient } = gen("mlbridge/v1/xgboost_service.js");
const { ModelServiceClient } = gen("mlbridge/v1/model_service.js");
const { GRPCInferenceServiceClient } = gen("inference/grpc_predict_v2.js");

const [mode, grpcPort, ...rest] = process.argv.slice(2);
const address = `127.0.0.1:${grpcPort}`;
const creds = grpc.credentials.createInsecure();
const call = (client, method, req) => new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));
const fail = (msg) => {
  console.error(`container-check: ${msg}`);
  process.exit(1);
};

async function healthy() {
  const def = loadSync(healthProto, { keepCase: true, enums: String });
  const Health = grpc.loadPackageDefinition(def).grpc.health.v1.Health;
  const client = new Health(address, creds);
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await call(client, "check", { service: "" });
      if (res.status === "SERVING") break;
    } catch (err) {
      if (Date.now() > until) fail(`no gRPC health answer on ${address}: ${err.message}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  client.close();
  console.log(`container-check: grpc.health.v1 SERVING on ${address}`);
}

async function train(modelFile) {
  const xgb = new XgboostServiceClient(address, creds);
  const iris = readFileSync(path.join(root, "build/test-data/iris.csv"));
  await new Promise((resolve, reject) => {
    const s = xgb.train();
    s.on("data", () => undefined);
    s.on("error", reject);
    s.on("end", resolve);
    s.write({
      payload: {
        $case: "header",
        value: { modelName: "iris", preset: "iris", parameters: {}, seed: 1, featureNames: [], classNames: [], labelColumn: "", failIfExists: false },
      },
    });
    s.write({ payload: { $case: "csvChunk", value: iris } });
    s.end();
  });
  const res = await call(xgb, "predict", {
    modelName: "iris",
    input: { $case: "matrix", value: { rows: 1, cols: 4, values: [5.1, 3.5, 1.4, 0.2] } },
    output: 0,
    rawOutput: false,
    omitClassNames: false,
  });
  if (res.classNames[0] !== "setosa") fail(`predicted ${JSON.stringify(res.classNames)} for a setosa row`);
  console.log("container-check: trained 'iris' in the container; Predict of a setosa row says setosa");
  xgb.close();
  // Export it (JSON) for the --load run.
  const models = new ModelServiceClient(address, creds);
  const chunks = [];
  await new Promise((resolve, reject) => {
    const s = models.exportModel({ name: "iris", format: 2 });
    s.on("data", (m) => chunks.push(m.chunk));
    s.on("error", reject);
    s.on("end", resolve);
  });
  models.close();
  writeFileSync(modelFile, Buffer.concat(chunks));
  console.log(`container-check: exported 'iris' to ${modelFile}`);
}

async function loaded(httpPort, name) {
  const body = { inputs: [{ name: "input", datatype: "FP32", shape: [2, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] };
  const r = await fetch(`http://127.0.0.1:${httpPort}/v2/models/${name}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await r.json();
  if (r.status !== 200) fail(`V2 REST infer on '${name}': HTTP ${r.status} ${JSON.stringify(json)}`);
  const predict = json.outputs.find((o) => o.name === "predict");
  if (predict?.data[0] !== 0 || predict?.data[1] !== 2) fail(`V2 REST infer on '${name}' answered ${JSON.stringify(json.outputs)}`);
  console.log(`container-check: the --load'ed model '${name}' answers V2 REST: classes ${predict.data.join(", ")}`);
  const v2 = new GRPCInferenceServiceClient(address, creds);
  const res = await call(v2, "modelInfer", {
    modelName: name,
    modelVersion: "",
    id: "c1",
    parameters: {},
    inputs: [
      {
        name: "input",
        datatype: "FP32",
        shape: [1, 4],
        parameters: {},
        contents: {
          fp32Contents: [5.1, 3.5, 1.4, 0.2],
          boolContents: [],
          intContents: [],
          int64Contents: [],
          uintContents: [],
          uint64Contents: [],
          fp64Contents: [],
          bytesContents: [],
        },
      },
    ],
    outputs: [],
    rawInputContents: [],
  });
  v2.close();
  if (res.modelName !== name) fail(`gRPC ModelInfer answered for ${res.modelName}`);
  console.log(`container-check: gRPC ModelInfer on '${name}' answered ${res.outputs.map((o) => o.name).join(", ")}`);
}

try {
  await healthy();
  if (mode === "train") await train(rest[0]);
  else if (mode === "loaded") await loaded(rest[0], rest[1]);
  else fail(`unknown mode ${mode}`);
} catch (err) {
  fail(err.stack ?? String(err));
}
