import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { credentials, loadPackageDefinition, Metadata, status } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { afterEach, describe, expect, it } from "vitest";
import { expectStatus, healthClient, startHarness, unary, type Harness } from "./helpers";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const count = (hh: Harness, md = new Metadata()) => unary(hh.text.countWords.bind(hh.text), { text: "a b a" }, md);

describe("token auth", () => {
  it("is off by default", async () => {
    h = await startHarness();
    expect((await count(h)).totalWords).toBe(3);
  });

  it("requires the bearer token on every RPC but health", async () => {
    h = await startHarness(["--auth-token", "s3cret"]);
    await expectStatus(count(h), status.UNAUTHENTICATED, "missing bearer token");
    const wrong = new Metadata();
    wrong.set("authorization", "Bearer nope");
    await expectStatus(count(h, wrong), status.UNAUTHENTICATED, "invalid bearer token");
    const right = new Metadata();
    right.set("authorization", "Bearer s3cret");
    expect((await count(h, right)).totalWords).toBe(3);
    // The scheme is case-insensitive (RFC 9110); the token is not.
    for (const scheme of ["bearer", "BEARER"]) {
      const md = new Metadata();
      md.set("authorization", `${scheme} s3cret`);
      expect((await count(h, md)).totalWords).toBe(3);
    }
    const wrongCase = new Metadata();
    wrongCase.set("authorization", "Bearer S3CRET");
    await expectStatus(count(h, wrongCase), status.UNAUTHENTICATED, "invalid bearer token");
    const health = healthClient(h.address);
    const res = await new Promise<{ status: string }>((resolve, reject) =>
      health.check({ service: "" }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))),
    );
    expect(res.status).toBe("SERVING");
    health.close();
  });
});

describe("TLS", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-tls-"));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", f("ca.key"), "-out", f("ca.pem"));
  for (const who of ["server", "client"]) {
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${who === "server" ? "localhost" : "client"}`,
      "-keyout",
      f(`${who}.key`),
      "-out",
      f(`${who}.csr`),
    );
    const ext = f(`${who}.ext`);
    require("node:fs").writeFileSync(ext, who === "server" ? "subjectAltName=DNS:localhost,IP:127.0.0.1\n" : "extendedKeyUsage=clientAuth\n");
    ssl(
      "x509",
      "-req",
      "-in",
      f(`${who}.csr`),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      ext,
      "-out",
      f(`${who}.pem`),
    );
  }
  const ca = readFileSync(f("ca.pem"));
  const tlsName = { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" };

  it("serves over server-side TLS and refuses plaintext", async () => {
    h = await startHarness(["--tls-cert", f("server.pem"), "--tls-key", f("server.key")], { creds: credentials.createSsl(ca), clientOptions: tlsName });
    expect((await count(h)).totalWords).toBe(3);
    const { TextServiceClient } = await import("../src/generated/mlbridge/v1/text_service");
    const plain = new TextServiceClient(h.address, credentials.createInsecure());
    await expectStatus(unary(plain.countWords.bind(plain), { text: "a" }, new Metadata(), { deadline: Date.now() + 3000 }), status.UNAVAILABLE, /./);
    plain.close();
  });

  it("with --tls-ca requires a client certificate (mutual TLS)", async () => {
    const args = ["--tls-cert", f("server.pem"), "--tls-key", f("server.key"), "--tls-ca", f("ca.pem")];
    h = await startHarness(args, { creds: credentials.createSsl(ca, readFileSync(f("client.key")), readFileSync(f("client.pem"))), clientOptions: tlsName });
    expect((await count(h)).totalWords).toBe(3);
    const { TextServiceClient } = await import("../src/generated/mlbridge/v1/text_service");
    const anon = new TextServiceClient(h.address, credentials.createSsl(ca), tlsName);
    await expectStatus(unary(anon.countWords.bind(anon), { text: "a" }, new Metadata(), { deadline: Date.now() + 3000 }), status.UNAVAILABLE, /./);
    anon.close();
  });
});

describe("reflection", () => {
  it("lists the mlbridge services and describes them to tools like grpcurl", async () => {
    h = await startHarness();
    const reflectionProto = path.join(path.dirname(require.resolve("@grpc/reflection/package.json")), "build/proto/grpc/reflection/v1/reflection.proto");
    const pkg = loadPackageDefinition(loadSync(reflectionProto, { keepCase: true })) as unknown as {
      grpc: {
        reflection: {
          v1: {
            ServerReflection: new (
              a: string,
              c: unknown,
            ) => Client & { ServerReflectionInfo: () => NodeJS.ReadWriteStream & { write: (...args: unknown[]) => unknown } };
          };
        };
      };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(h.address, credentials.createInsecure());
    const call = client.ServerReflectionInfo();
    const answers: { list_services_response?: { service: { name: string }[] }; file_descriptor_response?: { file_descriptor_proto: Buffer[] } }[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on("data", (a: (typeof answers)[number]) => answers.push(a));
      call.on("error", reject);
      call.on("end", () => resolve());
      call.write({ list_services: "" });
      call.write({ file_containing_symbol: "mlbridge.v1.CrfService" });
      call.write({ file_containing_symbol: "inference.GRPCInferenceService" });
      call.end();
    });
    const names = answers[0].list_services_response!.service.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "mlbridge.v1.CrfService",
        "mlbridge.v1.XgboostService",
        "mlbridge.v1.TextService",
        "mlbridge.v1.ModelService",
        "inference.GRPCInferenceService",
        "grpc.health.v1.Health",
      ]),
    );
    expect(answers[1].file_descriptor_response!.file_descriptor_proto.length).toBeGreaterThan(0);
    // Compiler-made descriptors (real file names, imports, `XxxEntry` map entries): protobuf-go
    // clients such as grpcurl reject the ones protobufjs rebuilds.
    const files = (i: number) => answers[i].file_descriptor_response!.file_descriptor_proto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(files(1).map((f) => f.name)).toEqual(
      expect.arrayContaining(["mlbridge/v1/crf_service.proto", "mlbridge/v1/types.proto", "google/protobuf/timestamp.proto"]),
    );
    expect(files(1)[0].dependency).toEqual(["mlbridge/v1/types.proto"]);
    const [oip] = files(2);
    expect(oip.name).toBe("inference/grpc_predict_v2.proto");
    expect(oip.messageType.find((m) => m.name === "ModelInferRequest")!.nestedType.map((n) => n.name)).toContain("ParametersEntry");
    client.close();
  });
});

describe("training limits", () => {
  // A training that runs until cancelled: 100,000 boosting rounds.
  const longTraining = async (client: Harness["xgb"], modelName: string) => {
    const { xgbTrainRequests, dataFile } = await import("./helpers");
    const call = client.train();
    const firstRound = new Promise<void>((resolve, reject) => {
      call.on("data", (e: { event?: { $case: string; value: { stage?: string } } }) => {
        if (e.event?.$case === "progress" && e.event.value.stage === "training") resolve();
      });
      call.on("error", (err: { code: number }) => (err.code === status.CANCELLED ? undefined : reject(err)));
    });
    for (const r of xgbTrainRequests({ modelName, preset: "iris", numRounds: 100_000 }, readFileSync(dataFile("iris.csv")))) call.write(r);
    call.end();
    await firstRound;
    return call;
  };
  const irisTraining = async (client: Harness["xgb"]) => {
    const { bidi, xgbTrainRequests, dataFile } = await import("./helpers");
    return bidi(client.train(), xgbTrainRequests({ modelName: "iris", preset: "iris" }, readFileSync(dataFile("iris.csv"))));
  };

  it("limits trainings per connection and in all, with RESOURCE_EXHAUSTED", async () => {
    h = await startHarness(["--max-trainings", "2", "--max-trainings-per-connection", "1"]);
    const { XgboostServiceClient } = await import("../src/generated/mlbridge/v1/xgboost_service");
    const own = { "grpc.use_local_subchannel_pool": 1 }; // a connection of its own
    const running = await longTraining(h.xgb, "long-1");
    await expectStatus(irisTraining(h.xgb), status.RESOURCE_EXHAUSTED, "too many trainings running on this connection (limit 1 per connection)");
    // Another connection may train: the global limit (2) is not reached.
    const other = new XgboostServiceClient(h.address, credentials.createInsecure(), own);
    expect((await irisTraining(other)).at(-1)!.event!.$case).toBe("report");
    // With both global slots taken, a third connection is refused.
    const running2 = await longTraining(other, "long-2"); // another name: same-name trainings queue
    const third = new XgboostServiceClient(h.address, credentials.createInsecure(), own);
    await expectStatus(irisTraining(third), status.RESOURCE_EXHAUSTED, "too many trainings running (limit 2)");
    running.cancel();
    running2.cancel();
    for (const c of [other, third]) c.close();
  });

  it("by default one connection gets one slot fewer than the server has, so it never holds them all", async () => {
    h = await startHarness(); // --max-trainings 2 by default
    expect(h.server.context.config.maxTrainingsPerConnection).toBe(1);
    const running = await longTraining(h.xgb, "long-1");
    await expectStatus(irisTraining(h.xgb), status.RESOURCE_EXHAUSTED, "limit 1 per connection");
    const { XgboostServiceClient } = await import("../src/generated/mlbridge/v1/xgboost_service");
    const other = new XgboostServiceClient(h.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    expect((await irisTraining(other)).at(-1)!.event!.$case).toBe("report");
    running.cancel();
    other.close();
  });

  it("a training past its deadline inside a round that would run for minutes frees its slot and process within 1 s", async () => {
    h = await startHarness();
    const { crfTrainingProcesses } = await import("@mlbridge/core");
    // 100,000 rows, 1,000 trees per round (the cap): one round runs for minutes.
    const rows = ["a,b,c,d,label"];
    for (let i = 0; i < 100_000; i++) rows.push(`${i % 7},${(i * 13) % 101},${i % 3},${(i * 7) % 11},${i % 2}`);
    const { bidi, xgbTrainRequests } = await import("./helpers");
    const deadline = Date.now() + 3000;
    const call = bidi(
      h.xgb.train({ deadline }),
      xgbTrainRequests({ modelName: "runaway", parameters: { num_parallel_tree: "1000", max_depth: "12" }, numRounds: 3 }, Buffer.from(rows.join("\n") + "\n")),
    );
    await expect(call).rejects.toMatchObject({ code: status.DEADLINE_EXCEEDED });
    const training = crfTrainingProcesses().training;
    while (Date.now() < deadline + 1000 && (h.server.context.trainings.active > 0 || crfTrainingProcesses().training.length > 0))
      await new Promise((r) => setTimeout(r, 20));
    expect(h.server.context.trainings.active).toBe(0);
    expect(crfTrainingProcesses().training).toEqual([]);
    expect(Date.now() - deadline).toBeLessThan(1000);
    void training;
  });

  it("an upload that goes idle is abandoned after --upload-idle-seconds and frees its slot", async () => {
    h = await startHarness(["--upload-idle-seconds", "1", "--max-trainings", "1"]);
    const { xgbTrainRequests } = await import("./helpers");
    // The header, then nothing: the slot is taken and held...
    const idle = h.xgb.train();
    const ended = new Promise<{ code: number; details: string }>((resolve) => {
      idle.on("data", () => undefined);
      idle.on("error", (e: { code: number; details: string }) => resolve(e));
    });
    idle.write(xgbTrainRequests({ modelName: "idle", preset: "iris" }, Buffer.alloc(0))[0]);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.server.context.trainings.active).toBe(1);
    // ...until the idle timeout: DEADLINE_EXCEEDED naming it, and the slot is free.
    const err = await ended;
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(err.details).toMatch(/sent nothing for 1 s \(the server's --upload-idle-seconds\)/);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(h.server.context.trainings.active).toBe(0);
    expect((await irisTraining(h.xgb)).at(-1)!.event!.$case).toBe("report");
    idle.end();
  });

  it("a SIGTERM's grace period ends a running training with UNAVAILABLE saying the server is shutting down", async () => {
    h = await startHarness();
    const call = h.xgb.train();
    const ended = new Promise<{ code: number; details: string }>((resolve) => {
      call.on("data", () => undefined);
      call.on("error", (e: { code: number; details: string }) => resolve(e));
    });
    const { xgbTrainRequests, dataFile } = await import("./helpers");
    for (const r of xgbTrainRequests({ modelName: "interrupted", preset: "iris", numRounds: 100_000 }, readFileSync(dataFile("iris.csv")))) call.write(r);
    call.end();
    while (h.server.context.trainings.active === 0) await new Promise((r) => setTimeout(r, 20));
    await h.server.shutdown(1);
    const err = await ended;
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/^the server is shutting down: the training was stopped and nothing was stored/);
    expect(existsSync(path.join(h.modelDir, "models", "interrupted.json"))).toBe(false);
  });
});

describe("messages", () => {
  it("a 100 KB value echoed in an error is cut: the status stays small and says so", async () => {
    h = await startHarness();
    const { GRPCInferenceServiceClient } = await import("../src/generated/inference/grpc_predict_v2");
    const { bidi, xgbTrainRequests, dataFile } = await import("./helpers");
    await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris", preset: "iris" }, readFileSync(dataFile("iris.csv"))));
    const oip = new GRPCInferenceServiceClient(h.address, credentials.createInsecure());
    const version = "v".repeat(100_000);
    const err = await expectStatus(unary(oip.modelMetadata.bind(oip), { name: "iris", version }), status.NOT_FOUND, "has no version");
    expect(err.details.length).toBeLessThan(1200);
    expect(err.details).toContain("(100000 characters)");
    oip.close();
  });
});
