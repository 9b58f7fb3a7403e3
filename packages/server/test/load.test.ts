/**
 * `--load NAME=URI`: models put into the store at start from a file, a folder
 * holding one model (KServe's /mnt/models), or s3:// (versitygw); a missing or
 * corrupt model stops the start naming NAME and URI.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { credentials } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { GRPCInferenceServiceClient } from "../src/generated/inference/grpc_predict_v2";
import { startServer } from "../src/server";
import { startHarness, unary } from "./helpers";
import { IRIS_ROWS, irisInferRequest, type ModelFiles, makeModelFiles } from "./model-files";
import { haveVersitygw, type ObjectStore, startObjectStore } from "./objectstore";

const cli = path.resolve(__dirname, "../dist/cli.js");
let files: ModelFiles;
let dir: string;

beforeAll(async () => {
  files = await makeModelFiles();
  dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-load-"));
  writeFileSync(path.join(dir, "model.json"), files.xgboostJson);
  mkdirSync(path.join(dir, "mnt-models"));
  writeFileSync(path.join(dir, "mnt-models", "model.crfsuite"), files.crfsuite);
  mkdirSync(path.join(dir, "two"));
  writeFileSync(path.join(dir, "two", "a.json"), files.xgboostJson);
  writeFileSync(path.join(dir, "two", "b.json"), files.xgboostJson);
  writeFileSync(path.join(dir, "corrupt.json"), '{"learner": {"not": "a model"}}');
  writeFileSync(path.join(dir, "truncated.crfsuite"), files.crfsuite.subarray(0, 200));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const infer = async (address: string, name: string) => {
  const v2 = new GRPCInferenceServiceClient(address, credentials.createInsecure());
  try {
    return await unary(v2.modelInfer.bind(v2), irisInferRequest(name, IRIS_ROWS));
  } finally {
    v2.close();
  }
};

const fails = async (load: string, message: string | RegExp, args: string[] = []) => {
  const modelDir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-load-bad-"));
  try {
    const config = loadConfig(["--port", "0", "--http-port", "off", "--model-dir", modelDir, "--load", load, ...args], {});
    await expect(startServer(config, pino({ level: "silent" }))).rejects.toThrow(message);
  } finally {
    rmSync(modelDir, { recursive: true, force: true });
  }
};

describe("--load at start", () => {
  it("loads an XGBoost JSON file and a folder's one CRFsuite model; a restart keeps the version", async () => {
    const args = ["--load", `iris=${path.join(dir, "model.json")}`, "--load", `ner=${path.join(dir, "mnt-models")}`];
    const h = await startHarness(args);
    const modelDir = h.modelDir;
    try {
      const res = await infer(h.address, "iris");
      expect(res.modelName).toBe("iris");
      expect(res.outputs.find((o) => o.name === "predict")!.contents!.int64Contents).toEqual([0, 1, 2]);
      const ner = await unary(h.models.getModel.bind(h.models), { name: "ner" });
      expect(ner.model!.labels.length).toBeGreaterThan(1);
      expect(ner.model!.parameters.source).toBe(path.join(dir, "mnt-models"));
      expect((await unary(h.models.getModel.bind(h.models), { name: "iris" })).model!.version).toBe(1);
    } finally {
      await h.close(true);
    }
    // The same files at the next start: nothing new stored.
    const again = await startHarness(args, { modelDir });
    try {
      expect((await unary(again.models.getModel.bind(again.models), { name: "iris" })).model!.version).toBe(1);
      expect((await unary(again.models.getModel.bind(again.models), { name: "ner" })).model!.version).toBe(1);
    } finally {
      await again.close();
    }
  });

  it("takes MLBRIDGE_LOAD (comma-separated) and a KIND: prefix", () => {
    const c = loadConfig([], { MLBRIDGE_LOAD: "a=/m/a.json,b=crfsuite:/m/b" });
    expect(c.load).toEqual([
      { name: "a", uri: "/m/a.json", path: "/m/a.json", kind: undefined },
      { name: "b", uri: "crfsuite:/m/b", path: "/m/b", kind: "crfsuite" },
    ]);
    expect(loadConfig(["--load", "x=s3://bucket/k/model.ubj"], {}).load[0].path).toBe("s3://bucket/k/model.ubj");
  });

  it("refuses malformed --load values naming them", () => {
    expect(() => loadConfig(["--load", "no-equals"], {})).toThrow('--load "no-equals": expected NAME=URI');
    expect(() => loadConfig(["--load", "../x=/m"], {})).toThrow('--load "../x=/m": expected NAME=URI');
    expect(() => loadConfig(["--load", "a=https://example.invalid/m.json"], {})).toThrow("expected a path or s3://bucket/key");
    expect(() => loadConfig(["--load", "a=/m", "--load", "a=/n"], {})).toThrow("the name 'a' is given twice");
  });

  it("a missing file, a corrupt one, a wrong kind or an ambiguous folder stops the start naming NAME and URI", async () => {
    await fails(`gone=${dir}/none.json`, `--load gone=${dir}/none.json: ${dir}/none.json: no such file or folder`);
    await fails(`bad=${dir}/corrupt.json`, new RegExp(`^--load bad=${dir}/corrupt.json: ${dir}/corrupt.json: not an XGBoost model`));
    await fails(`cut=${dir}/truncated.crfsuite`, new RegExp(`^--load cut=${dir}/truncated.crfsuite: ${dir}/truncated.crfsuite: not a CRFsuite model`));
    await fails(`kind=crfsuite:${dir}/model.json`, new RegExp(`^--load kind=crfsuite:${dir}/model.json: .*not a CRFsuite model`));
    await fails(`two=${dir}/two`, `--load two=${dir}/two: ${dir}/two holds 2 files (a.json, b.json): name the model file`);
  });

  it("the CLI exits 1 with the message on stderr, nothing left listening", () => {
    const modelDir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-load-cli-"));
    try {
      const r = spawnSync(process.execPath, [cli, "serve", "--port", "0", "--http-port", "off", "--model-dir", modelDir, "--load", `gone=${dir}/none.json`], {
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`mlbridge: --load gone=${dir}/none.json: `);
    } finally {
      rmSync(modelDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!haveVersitygw)("--load from s3:// (versitygw)", () => {
  let s3: ObjectStore;
  beforeAll(async () => {
    s3 = await startObjectStore("models");
    await s3.client.send(new PutObjectCommand({ Bucket: "models", Key: "iris/v1/model.ubj", Body: files.xgboostUbj }));
  });
  afterAll(() => s3?.close());

  it("loads an object, and a prefix's one object; a missing key stops the start", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    try {
      const h = await startHarness(["--s3-endpoint", s3.endpoint, "--load", "a=s3://models/iris/v1/model.ubj", "--load", "b=s3://models/iris/v1"]);
      try {
        for (const name of ["a", "b"])
          expect((await infer(h.address, name)).outputs.find((o) => o.name === "predict")!.contents!.int64Contents).toEqual([0, 1, 2]);
      } finally {
        await h.close();
      }
      await fails(
        "c=s3://models/iris/v2/model.ubj",
        "--load c=s3://models/iris/v2/model.ubj: s3://models/iris/v2/model.ubj: no such object, and no object under it",
        ["--s3-endpoint", s3.endpoint],
      );
    } finally {
      process.env = saved;
    }
  });
});
