import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type ChannelCredentials, type Client, type ClientDuplexStream, credentials, loadPackageDefinition, Metadata, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProto } from "grpc-health-check";
import { type NativeItem, packSequences, type RuntimeRegistry } from "@mlbridge/core";
import pino from "pino";
import { loadConfig } from "../src/config";
import { type CrfPackedSequences, CrfServiceClient, type CrfServiceTrainRequest, type CrfServiceTrainResponse } from "../src/generated/mlbridge/v1/crf_service";
import { ModelServiceClient } from "../src/generated/mlbridge/v1/model_service";
import { TextServiceClient } from "../src/generated/mlbridge/v1/text_service";
import { XgboostServiceClient, type XgboostServiceTrainRequest, type XgboostServiceTrainResponse } from "../src/generated/mlbridge/v1/xgboost_service";
import { startServer, type RunningServer } from "../src/server";

export { book, bookDir, dataFile } from "../../core/test/data";

/** A real server on an ephemeral port with a fresh model store, and real clients. */
export interface Harness {
  server: RunningServer;
  address: string;
  modelDir: string;
  crf: CrfServiceClient;
  xgb: XgboostServiceClient;
  text: TextServiceClient;
  models: ModelServiceClient;
  /** Stops the server; removes the store unless `keepStore`. */
  close(keepStore?: boolean): Promise<void>;
}

export async function startHarness(
  args: string[] = [],
  opts: { modelDir?: string; creds?: ChannelCredentials; clientOptions?: object; log?: pino.Logger; runtimes?: RuntimeRegistry } = {},
): Promise<Harness> {
  const modelDir = opts.modelDir ?? (await mkdtemp(path.join(os.tmpdir(), "mlbridge-test-")));
  // Trainings at the caller's priority (--train-nice 0): the suites run side by side with other
  // nice-0 work (nx runs several at once), which a niced training yields to until it nearly stops
  // (a 2-iteration CRF training took over 60 s beside two busy loops). The priority itself is
  // tested where it is the subject (lifecycle.test.ts; core's crf-train-process.test.ts).
  const config = loadConfig(["--port", "0", "--http-port", "0", "--model-dir", modelDir, "--grace-seconds", "2", "--train-nice", "0", ...args], {});
  const server = await startServer(config, opts.log ?? pino({ level: process.env.MLBRIDGE_TEST_LOG ?? "silent" }), { runtimes: opts.runtimes });
  const address = `127.0.0.1:${server.port}`;
  const creds = opts.creds ?? credentials.createInsecure();
  const o = { "grpc.max_receive_message_length": 256 * 1024 * 1024, "grpc.max_send_message_length": 256 * 1024 * 1024, ...opts.clientOptions };
  const h: Harness = {
    server,
    address,
    modelDir,
    crf: new CrfServiceClient(address, creds, o),
    xgb: new XgboostServiceClient(address, creds, o),
    text: new TextServiceClient(address, creds, o),
    models: new ModelServiceClient(address, creds, o),
    async close(keepStore = false) {
      for (const c of [h.crf, h.xgb, h.text, h.models]) c.close();
      await server.shutdown(1);
      if (!keepStore) await rm(modelDir, { recursive: true, force: true });
    },
  };
  return h;
}

type UnaryFn<Req, Res> = (req: Req, md: Metadata, opts: object, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** Calls a unary method as a promise. */
export function unary<Req, Res>(fn: UnaryFn<Req, Res>, req: Req, md = new Metadata(), opts: object = {}): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, md, opts, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Sends requests on a bidi stream, half-closes, collects every response. */
export function bidi<Req, Res>(stream: ClientDuplexStream<Req, Res>, requests: Req[], onResponse?: (r: Res) => void): Promise<Res[]> {
  return new Promise((resolve, reject) => {
    const out: Res[] = [];
    stream.on("data", (r: Res) => {
      out.push(r);
      onResponse?.(r);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
    for (const r of requests) stream.write(r);
    stream.end();
  });
}

/** Splits a buffer into chunks. */
export function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** CrfService.Train requests: a header and CSV chunks. */
export function crfTrainRequests(
  header: Partial<NonNullable<Extract<CrfServiceTrainRequest["payload"], { $case: "header" }>["value"]>>,
  csv: Buffer,
  chunkSize = 64 * 1024,
): CrfServiceTrainRequest[] {
  return [
    {
      payload: {
        $case: "header",
        value: {
          modelName: "",
          algorithm: 0,
          parameters: {},
          featurePreset: "",
          featureTemplate: undefined,
          seed: 0,
          noHoldout: false,
          failIfExists: false,
          ...header,
        },
      },
    },
    ...chunks(csv, chunkSize).map((c): CrfServiceTrainRequest => ({ payload: { $case: "csvChunk", value: c } })),
  ];
}

/** XgboostService.Train requests: a header and CSV chunks. */
export function xgbTrainRequests(
  header: Partial<NonNullable<Extract<XgboostServiceTrainRequest["payload"], { $case: "header" }>["value"]>>,
  csv: Buffer,
): XgboostServiceTrainRequest[] {
  return [
    {
      payload: {
        $case: "header",
        value: { modelName: "", preset: "", parameters: {}, seed: 0, featureNames: [], classNames: [], labelColumn: "", failIfExists: false, ...header },
      },
    },
    ...chunks(csv, 1024).map((c): XgboostServiceTrainRequest => ({ payload: { $case: "csvChunk", value: c } })),
  ];
}

export type CrfTrainEvents = CrfServiceTrainResponse[];
export type XgbTrainEvents = XgboostServiceTrainResponse[];

/** A logger whose JSON entries land in `entries` (for tests that assert what is logged). */
export function captureLog(level = "info"): { log: pino.Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (line: string) => void entries.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, entries };
}

/** Expects a promise to fail with a gRPC status code and a message fragment. */
export async function expectStatus(p: Promise<unknown>, code: number, message: RegExp | string): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as ServiceError;
    if (e.code !== code || !(typeof message === "string" ? e.details.includes(message) : message.test(e.details))) {
      throw new Error(`expected status ${code} /${String(message)}/, got ${e.code} ${JSON.stringify(e.details)}`);
    }
    return e;
  }
  throw new Error(`expected status ${code}, but the call succeeded`);
}

/** A grpc.health.v1 client (dynamic: the health proto ships with grpc-health-check); statuses come as strings. */
export function healthClient(address: string): Client & { check: (...args: unknown[]) => unknown } {
  const def = loadSync(healthProto, { keepCase: true, enums: String });
  const pkg = loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: unknown) => Client & { check: (...args: unknown[]) => unknown } } } };
  };
  return new pkg.grpc.health.v1.Health(address, credentials.createInsecure());
}

/** Sequences of items ([name, weight] attributes) in the wire's one CRF form. */
export function packedOf(seqs: NativeItem[][]): CrfPackedSequences {
  const p = packSequences(seqs);
  return {
    attributeNames: Buffer.from(p.attributeNames),
    attributeWeights: Array.from(p.attributeWeights ?? []),
    itemAttributeCounts: Array.from(p.itemAttributeCounts),
    sequenceLengths: Array.from(p.sequenceLengths),
  };
}

/** A CRF Train stream's messages on labelled sequences: the header, then one CrfLabelledSequences batch. */
export function crfSequenceRequests(
  header: Partial<NonNullable<Extract<CrfServiceTrainRequest["payload"], { $case: "header" }>["value"]>> & { modelName: string },
  seqs: { items: NativeItem[]; labels: string[] }[],
): CrfServiceTrainRequest[] {
  return [
    { payload: { $case: "header", value: { algorithm: 0, parameters: {}, featurePreset: "", seed: 0, noHoldout: true, failIfExists: false, ...header } } },
    { payload: { $case: "sequences", value: { sequences: packedOf(seqs.map((s) => s.items)), labels: seqs.flatMap((s) => s.labels) } } },
  ];
}

/** Labels per sequence from a packed Tag response. */
export function labelsOf(res: { labels: string[]; packed?: { labelIndices: number[] } }, lengths: number[]): string[][] {
  let at = 0;
  return lengths.map((n) => res.packed!.labelIndices.slice(at, (at += n)).map((k) => res.labels[k]));
}
