/**
 * Several replicas on one shared model store: a real S3-compatible server
 * (versitygw) and three `mlbridge serve` processes on loopback ports, each
 * with its own clients. What one replica stores, every replica serves within
 * a poll period; two replicas storing one name at once end with one winner;
 * the object store's outage leaves cached models serving.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelServiceClient } from "../src/generated/mlbridge/v1/model_service";
import { XgboostServiceClient } from "../src/generated/mlbridge/v1/xgboost_service";
import { bidi, dataFile, expectStatus, healthClient, unary, xgbTrainRequests } from "./helpers";
import { haveVersitygw, NGINX, type ObjectStore, startBalancer, startObjectStore, VERSITYGW } from "./objectstore";

const cli = path.resolve(__dirname, "../dist/cli.js");
const iris = readFileSync(dataFile("iris.csv"));
const BUCKET = "models";
const STORE = `s3://${BUCKET}/replicas`;
const ROW = { rows: 1, cols: 4, values: [5.9, 3.0, 4.2, 1.5] };

interface Replica {
  proc: ChildProcess;
  address: string;
  httpPort: number;
  xgb: XgboostServiceClient;
  models: ModelServiceClient;
  health: ReturnType<typeof healthClient>;
  stderr: () => string;
  close(): Promise<void>;
}

async function startReplica(s3: ObjectStore, args: string[] = [], env: Record<string, string> = s3.env): Promise<Replica> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlbridge-replica-"));
  const portFile = path.join(dir, "port");
  const httpPortFile = path.join(dir, "http-port");
  const proc = spawn(
    process.execPath,
    [
      cli,
      "serve",
      "--port",
      "0",
      "--http-port",
      "0",
      "--http-port-file",
      httpPortFile,
      "--port-file",
      portFile,
      "--store",
      STORE,
      "--store-poll-seconds",
      "1",
      "--log-level",
      "warn",
      ...args,
    ],
    { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  const deadline = Date.now() + 20_000;
  while (!existsSync(portFile) || !readFileSync(portFile, "utf8").trim()) {
    if (proc.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw Object.assign(new Error(`replica exited with ${proc.exitCode}: ${err}`), { exitCode: proc.exitCode, stderr: err });
    }
    if (Date.now() > deadline) throw new Error(`replica did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const address = `127.0.0.1:${readFileSync(portFile, "utf8").trim()}`;
  const creds = credentials.createInsecure();
  const r: Replica = {
    proc,
    address,
    httpPort: Number(readFileSync(httpPortFile, "utf8").trim()),
    xgb: new XgboostServiceClient(address, creds),
    models: new ModelServiceClient(address, creds),
    health: healthClient(address),
    stderr: () => err,
    async close() {
      r.xgb.close();
      r.models.close();
      r.health.close();
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((res) => proc.once("exit", res));
        proc.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}

const predict = (r: Replica, modelName: string, modelVersion = 0) =>
  unary(r.xgb.predict.bind(r.xgb), { modelName, input: { $case: "matrix", value: ROW }, output: 0, modelVersion, rawOutput: false, omitClassNames: false });
const train = (r: Replica, modelName: string, extra: object = {}) => bidi(r.xgb.train(), xgbTrainRequests({ modelName, preset: "iris", ...extra }, iris));
const health = (r: Replica, service: string) =>
  new Promise<string>((resolve, reject) =>
    (r.health.check as (req: object, cb: (err: Error | null, res: { status: string }) => void) => void)({ service }, (err, res) =>
      err ? reject(err) : resolve(res.status),
    ),
  );
const version = async (r: Replica, name: string) => (await unary(r.models.getModel.bind(r.models), { name })).model!.version;

/** How many Predict calls a replica answered OK, from its /metrics. */
async function predictsServed(r: Replica): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.httpPort}/metrics`)).text();
  const m = /^mlbridge_rpc_duration_seconds_count\{method="\/mlbridge\.v1\.XgboostService\/Predict",code="OK"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Polls `fn` until it resolves without throwing, at most `ms`; returns its value and how long it took. */
async function eventually<T>(fn: () => Promise<T>, ms = 5000): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    try {
      return { value: await fn(), ms: Date.now() - t0 };
    } catch (err) {
      if (Date.now() - t0 > ms) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

if (!haveVersitygw) console.log(`shared store tests skipped: no versitygw at ${VERSITYGW} (scripts/setup.sh installs it with go install)`);

// In CI a missing tool is a failure, not a skip: setup.sh must have built it.
it.runIf(process.env.CI === "true")("has versitygw and nginx in CI (scripts/setup.sh installs them)", () => {
  expect(haveVersitygw).toBe(true);
  expect(NGINX).toBeTruthy();
});

describe.skipIf(!haveVersitygw)("three replicas on one S3-compatible store (versitygw)", () => {
  let s3: ObjectStore;
  let replicas: Replica[] = [];
  beforeAll(async () => {
    s3 = await startObjectStore(BUCKET);
    replicas = await Promise.all([startReplica(s3), startReplica(s3), startReplica(s3)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await s3?.close();
  });

  it("a model trained through one replica is served by every replica within a poll period, same version, same answers", async () => {
    const [a, b, c] = replicas;
    const events = await train(a, "iris");
    const report = events.at(-1)!.event!;
    expect(report.$case).toBe("report");
    const answer = await predict(a, "iris");
    for (const r of [b, c]) {
      const { value } = await eventually(() => predict(r, "iris"));
      expect(value.values).toEqual(answer.values);
      expect(await version(r, "iris")).toBe(1);
    }
    // Retrained through another replica: version 2 everywhere, within a poll period.
    await train(b, "iris", { numRounds: 3 });
    for (const r of replicas) {
      const { ms } = await eventually(async () => expect(await version(r, "iris")).toBe(2));
      expect(ms).toBeLessThan(3000);
    }
  });

  it("a replica reads a model it has not polled yet before answering NOT_FOUND", async () => {
    const [a, , c] = replicas;
    await train(a, "fresh");
    // At once, well inside the 1 s poll period: the miss reads the pointer.
    expect((await predict(c, "fresh")).classNames).toHaveLength(1);
    await expectStatus(predict(c, "never-stored"), status.NOT_FOUND, "model 'never-stored' not found");
  });

  it("a pinned version is served while it is current, NOT_FOUND naming the current one after", async () => {
    const [a, b] = replicas;
    await train(a, "pinned");
    await eventually(() => predict(b, "pinned", 1));
    await train(a, "pinned");
    await eventually(() => expectStatus(predict(b, "pinned", 1), status.NOT_FOUND, "model 'pinned' is at version 2; version 1 is not served"));
    expect((await predict(b, "pinned", 2)).rows).toBe(1);
  });

  it("two replicas storing one name at once: one winner, ABORTED for the other, every replica serves the winner", async () => {
    const [a, b] = replicas;
    await train(a, "race");
    await eventually(async () => expect(await version(b, "race")).toBe(1));
    const results = await Promise.allSettled([train(a, "race"), train(b, "race")]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    // Usually one loses; on a slow store both may commit one after the other (versions 2 and 3).
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const l of lost) {
      expect(l.reason.code).toBe(status.ABORTED);
      expect(l.reason.details).toMatch(/^model 'race' was stored by another server while this one worked on it \(its version \d+ is served now\)/);
    }
    const final = 1 + won.length;
    for (const r of replicas) await eventually(async () => expect(await version(r, "race")).toBe(final));
    const sha = (await unary(a.models.getModel.bind(a.models), { name: "race" })).model!.sha256;
    for (const r of replicas) expect((await unary(r.models.getModel.bind(r.models), { name: "race" })).model!.sha256).toBe(sha);
  });

  it("retrained twice under load: no call fails, every answer names its version, one version always answers the same", async () => {
    const [a, b] = replicas;
    await train(a, "rolling");
    await eventually(() => predict(b, "rolling"));
    const answers: { version: number; values: string }[] = [];
    const failed: string[] = [];
    let done = false;
    const loops = Array.from({ length: 3 }, async () => {
      while (!done) {
        try {
          const r = await predict(b, "rolling");
          answers.push({ version: r.modelVersion, values: JSON.stringify([r.values, r.classNames]) });
        } catch (err) {
          failed.push((err as { details?: string }).details ?? String(err));
        }
      }
    });
    // Different rounds: each version answers differently for some rows, and must answer the same every time.
    await train(a, "rolling", { numRounds: 1 });
    await eventually(async () => expect(await version(b, "rolling")).toBe(2));
    await train(a, "rolling", { numRounds: 7 });
    await eventually(async () => expect(await version(b, "rolling")).toBe(3));
    await new Promise((r) => setTimeout(r, 200));
    done = true;
    await Promise.all(loops);
    expect(failed).toEqual([]);
    const byVersion = new Map<number, Set<string>>();
    for (const x of answers) byVersion.set(x.version, (byVersion.get(x.version) ?? new Set()).add(x.values));
    expect([...byVersion.keys()].sort()).toEqual([1, 2, 3]);
    for (const [, set] of byVersion) expect(set.size).toBe(1);
  }, 60_000);

  it("a model deleted through one replica disappears from every replica", async () => {
    const [a, b, c] = replicas;
    await train(a, "doomed");
    await eventually(() => predict(c, "doomed"));
    await unary(b.models.deleteModel.bind(b.models), { name: "doomed" });
    for (const r of replicas) await eventually(() => expectStatus(predict(r, "doomed"), status.NOT_FOUND, "not found"));
  });

  it("a pointer naming a missing blob, a blob that does not match its sha256: DATA_LOSS naming the model, never another model", async () => {
    const [a, b] = replicas;
    const forged = {
      name: "forged",
      kind: "xgboost",
      format: "xgboost-ubj",
      sha256: "0".repeat(64),
      sizeBytes: 10,
      version: 1,
      createdAt: new Date().toISOString(),
      parameters: {},
      metrics: {},
      labels: [],
      featureNames: [],
    };
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "replicas/models/forged.json", Body: JSON.stringify(forged) }));
    await expectStatus(predict(a, "forged"), status.DATA_LOSS, "model 'forged' is missing its stored bytes");
    // A blob under another content's name.
    await train(a, "swapped");
    const info = (await unary(a.models.getModel.bind(a.models), { name: "swapped" })).model!;
    const other = Buffer.from("not the model");
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `replicas/blobs/${info.sha256}`, Body: other }));
    await expectStatus(predict(b, "swapped"), status.DATA_LOSS, "model 'swapped' is corrupt in the store (checksum mismatch)");
    expect(createHash("sha256").update(other).digest("hex")).not.toBe(info.sha256);
  });

  it("without the object store: cached models keep serving, training is UNAVAILABLE naming the store, ModelService NOT_SERVING; all recovers", async () => {
    const [a, b] = replicas;
    await train(a, "steady");
    await eventually(() => predict(b, "steady"));
    await s3.stop();
    const down = Date.now();
    try {
      for (let i = 0; i < 20; i++) expect((await predict(b, "steady")).rows).toBe(1);
      await expectStatus(train(a, "while-down"), status.UNAVAILABLE, `the model store ${STORE} cannot be reached`);
      await eventually(async () => {
        expect(await health(b, "mlbridge.v1.ModelService")).toBe("NOT_SERVING");
      });
      expect(await health(b, "mlbridge.v1.XgboostService")).toBe("SERVING");
      // Ten seconds without the store, several failed polls: the cached model keeps answering.
      while (Date.now() - down < 10_000) {
        expect((await predict(b, "steady")).rows).toBe(1);
        await new Promise((r) => setTimeout(r, 100));
      }
      const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^mlbridge_store_up 0$/m);
      expect(Number(/^mlbridge_store_errors_total\{operation="read"\} (\d+)$/m.exec(metrics)![1])).toBeGreaterThanOrEqual(3);
    } finally {
      await s3.start();
    }
    await eventually(async () => expect(await health(b, "mlbridge.v1.ModelService")).toBe("SERVING"));
    expect((await train(a, "after")).at(-1)!.event!.$case).toBe("report");
  }, 60_000);

  it("a malformed URL, refused credentials, a missing bucket: the server exits at start naming the store", async () => {
    const fails = async (args: string[], env: Record<string, string>, message: RegExp) => {
      const err = await startReplica(s3, args, env).then(
        async (r) => {
          await r.close();
          return undefined;
        },
        (e: { exitCode?: number; stderr?: string }) => e,
      );
      expect(err?.exitCode).not.toBe(0);
      expect(err?.stderr).toMatch(message);
      expect(err?.stderr).not.toContain(s3.env.AWS_SECRET_ACCESS_KEY); // never a credential
    };
    await fails(["--store", "s3://Bad_Bucket"], s3.env, /--store "s3:\/\/Bad_Bucket": expected s3:\/\/bucket/);
    await fails(
      [],
      { ...s3.env, AWS_SECRET_ACCESS_KEY: "wrong" },
      /the model store s3:\/\/models\/replicas cannot be opened: access refused \(SignatureDoesNotMatch, HTTP 403\)/,
    );
    await fails(
      ["--store", "s3://no-such-bucket/x"],
      s3.env,
      /the model store s3:\/\/no-such-bucket\/x cannot be opened: bucket 'no-such-bucket' does not exist/,
    );
  }, 60_000);
  it.skipIf(!NGINX)(
    "behind nginx: predictions through the balancer all come from the new model, from every replica; a replica killed with SIGKILL fails only calls in flight on it",
    async () => {
      const lb = await startBalancer(replicas.map((r) => r.address));
      const client = new XgboostServiceClient(lb.address, credentials.createInsecure());
      const through = { xgb: client } as unknown as Replica;
      try {
        // Trained through the balancer (whichever replica gets it), then 300 predictions through it.
        expect((await train(through, "balanced")).at(-1)!.event!.$case).toBe("report");
        const expected = (await eventually(() => Promise.all(replicas.map((r) => predict(r, "balanced"))))).value[0];
        const before = await Promise.all(replicas.map(predictsServed));
        const answers = [];
        for (let i = 0; i < 300; i++) answers.push(await predict(through, "balanced"));
        expect(answers.every((a) => JSON.stringify(a.values) === JSON.stringify(expected.values))).toBe(true);
        const served = (await Promise.all(replicas.map(predictsServed))).map((n, i) => n - before[i]);
        console.log(`predictions through nginx per replica: ${served.join(", ")}`);
        expect(served.reduce((a, b) => a + b, 0)).toBe(300);
        expect(served.every((n) => n > 0)).toBe(true);
        // Retrained through the balancer while three callers predict through it: no call fails, and
        // each version (whichever replica answers) always gives the same answer.
        const seen = new Map<number, Set<string>>();
        const rolloutFailures: string[] = [];
        let rolling = true;
        const rollout = Array.from({ length: 3 }, async () => {
          while (rolling) {
            try {
              const r = await predict(through, "balanced");
              seen.set(r.modelVersion, (seen.get(r.modelVersion) ?? new Set()).add(JSON.stringify([r.values, r.classNames])));
            } catch (err) {
              rolloutFailures.push((err as { details?: string }).details ?? String(err));
            }
          }
        });
        const v1 = (await unary(replicas[0].models.getModel.bind(replicas[0].models), { name: "balanced" })).model!.version;
        await train(through, "balanced", { numRounds: 1 });
        for (const r of replicas) await eventually(async () => expect(await version(r, "balanced")).toBe(v1 + 1));
        await new Promise((r) => setTimeout(r, 300));
        rolling = false;
        await Promise.all(rollout);
        expect(rolloutFailures).toEqual([]);
        expect([...seen.keys()].sort()).toEqual([v1, v1 + 1]);
        for (const [, answers] of seen) expect(answers.size).toBe(1);
        // Four callers in a loop for 3 s; one replica killed after 1 s.
        let ok = 0;
        const failed: string[] = [];
        const until = Date.now() + 3000;
        const victim = replicas[2];
        const loops = Array.from({ length: 4 }, async () => {
          while (Date.now() < until) {
            try {
              await predict(through, "balanced");
              ok++;
            } catch (err) {
              failed.push((err as { details?: string }).details ?? String(err));
            }
          }
        });
        await new Promise((r) => setTimeout(r, 1000));
        victim.proc.kill("SIGKILL");
        await Promise.all(loops);
        console.log(`replica killed under load: ${ok} calls succeeded, ${failed.length} failed${failed.length ? ` (${[...new Set(failed)].join("; ")})` : ""}`);
        expect(ok).toBeGreaterThan(100);
        // Only calls in flight on the killed replica can fail (nginx cannot replay a request it has
        // streamed to an upstream that dies): at most one per caller. Every call after it succeeds.
        expect(failed.length).toBeLessThanOrEqual(4);
        for (let i = 0; i < 50; i++) expect((await predict(through, "balanced")).rows).toBe(1);
      } finally {
        client.close();
        await lb.stop();
      }
    },
    60_000,
  );
});
