/**
 * HTTP beside gRPC: the Open Inference Protocol's REST binding (KServe V2,
 * HTTP/JSON) over the same store and cache as `inference.GRPCInferenceService`
 * (both call inferenceHandlers), plus the operator's endpoints: `/metrics`,
 * `/healthz`, `/readyz`. Built on Node's `http` module: ten routes do not need
 * a framework, and the request path stays one parse of JSON and one of the
 * URL. docs/http.md has a curl example for each endpoint.
 */
import http from "node:http";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ServerConfig } from "./config";
import { toServiceError } from "./errors";
import type {
  InferParameter,
  InferTensorContents,
  ModelInferRequest,
  ModelInferRequest_InferInputTensor as InputTensor,
} from "./generated/inference/grpc_predict_v2";
import { bearerToken, sameSecret } from "./interceptors";
import type { Metrics } from "./metrics";
import { modelVersion, type InferenceHandlers } from "./services/inference";
import type { ModelStore } from "./store";
import { emptyContents, rawBytes, type Output } from "./tensors";

/** HTTP status of each gRPC status, as Triton and KServe map them. */
const HTTP_STATUS: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.FAILED_PRECONDITION]: 400,
  [status.OUT_OF_RANGE]: 400,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.ABORTED]: 409,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.UNIMPLEMENTED]: 501,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.CANCELLED]: 499,
};

/** An error to answer with an HTTP status and `{"error": message}`. */
class HttpError extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new HttpError(400, message);

/** Where each datatype's values go in InferTensorContents, and what a JSON element must be. */
const CONTENTS: Record<string, [keyof InferTensorContents, "number" | "boolean" | "string"]> = {
  BOOL: ["boolContents", "boolean"],
  INT8: ["intContents", "number"],
  INT16: ["intContents", "number"],
  INT32: ["intContents", "number"],
  INT64: ["int64Contents", "number"],
  UINT8: ["uintContents", "number"],
  UINT16: ["uintContents", "number"],
  UINT32: ["uintContents", "number"],
  UINT64: ["uint64Contents", "number"],
  FP32: ["fp32Contents", "number"],
  FP64: ["fp64Contents", "number"],
  BYTES: ["bytesContents", "string"],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON parameters object as the protocol's parameters (strings, booleans, numbers). */
function parameters(value: unknown, field: string): Record<string, InferParameter> {
  if (value === undefined) return {};
  if (!isObject(value)) throw bad(`${field}: expected an object`);
  const out: Record<string, InferParameter> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "string") out[k] = { parameterChoice: { $case: "stringParam", value: v } };
    else if (typeof v === "boolean") out[k] = { parameterChoice: { $case: "boolParam", value: v } };
    else if (typeof v === "number" && Number.isFinite(v)) out[k] = { parameterChoice: { $case: Number.isInteger(v) ? "int64Param" : "doubleParam", value: v } };
    else throw bad(`${field}.${k}: expected a string, a boolean or a finite number`);
  }
  return out;
}

/** Flattens `data` (flat, or nested row-major as the spec allows) into `out`, checking each element's type. */
function flatten(data: unknown, kind: "number" | "boolean" | "string", field: string, out: unknown[]): void {
  if (Array.isArray(data)) {
    for (const d of data) {
      if (Array.isArray(d)) flatten(d, kind, field, out);
      else {
        if (typeof d !== kind || (kind === "number" && !Number.isFinite(d)))
          throw bad(`${field}[${out.length}]: expected ${kind === "number" ? "a finite number" : `a ${kind}`}, got ${JSON.stringify(d)?.slice(0, 40)}`);
        out.push(d);
      }
    }
    return;
  }
  throw bad(`${field}: expected an array`);
}

/** A non-negative integer parameter of the binary data extension, or undefined when absent. */
function byteCount(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw bad(`${field}: expected a non-negative integer`);
  return value as number;
}

/** A parameters object without the binary data extension's own keys (they are this layer's business). */
function withoutBinaryKeys(value: unknown): unknown {
  if (!isObject(value)) return value;
  const { binary_data_size: _size, binary_data: _out, binary_data_output: _all, ...rest } = value;
  return rest;
}

/**
 * The body of POST .../infer as a ModelInferRequest (the gRPC service's
 * request). `binary` is what follows the JSON header under the binary data
 * extension: each input with `parameters.binary_data_size` takes that many
 * bytes of it, in order, laid out as `raw_input_contents` (little-endian,
 * BYTES elements length-prefixed).
 */
export function inferRequest(body: unknown, modelName: string, version: string, binary?: Buffer): ModelInferRequest {
  if (!isObject(body)) throw bad('the request body must be a JSON object with "inputs"');
  if (body.id !== undefined && typeof body.id !== "string") throw bad("id: expected a string");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw bad("inputs: expected a non-empty array of input tensors");
  const raw: Buffer[] = [];
  let offset = 0;
  const inputs = body.inputs.map((t: unknown, i: number): InputTensor => {
    const field = `inputs[${i}]`;
    if (!isObject(t)) throw bad(`${field}: expected an object`);
    if (typeof t.name !== "string" || !t.name) throw bad(`${field}.name: expected a non-empty string`);
    if (typeof t.datatype !== "string") throw bad(`${field}.datatype: expected a string`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(`${field}.shape: expected an array of non-negative integers`);
    const size = byteCount(isObject(t.parameters) ? t.parameters.binary_data_size : undefined, `${field}.parameters.binary_data_size`);
    const params = parameters(withoutBinaryKeys(t.parameters), `${field}.parameters`);
    const contents = emptyContents();
    if (size !== undefined) {
      if (!binary)
        throw bad(
          `${field}.parameters.binary_data_size: the request has no binary part (send the Inference-Header-Content-Length header with the JSON header's length)`,
        );
      if (t.data !== undefined) throw bad(`${field}: give either "data" or parameters.binary_data_size, not both`);
      if (offset + size > binary.length)
        throw bad(`${field}.parameters.binary_data_size: ${size} bytes at offset ${offset} run past the binary part's ${binary.length} bytes`);
      raw.push(binary.subarray(offset, offset + size));
      offset += size;
      return { name: t.name, datatype: t.datatype, shape: t.shape as number[], parameters: params, contents };
    }
    const target = CONTENTS[t.datatype];
    if (!target)
      throw bad(`${field}.datatype: ${JSON.stringify(t.datatype.slice(0, 20))} is not supported over JSON (supported: ${Object.keys(CONTENTS).join(", ")})`);
    const values: unknown[] = [];
    flatten(t.data, target[1], `${field}.data`, values);
    (contents[target[0]] as unknown[]) = target[0] === "bytesContents" ? values.map((v) => Buffer.from(v as string, "utf8")) : values;
    return { name: t.name, datatype: t.datatype, shape: t.shape as number[], parameters: params, contents };
  });
  if (binary && offset !== binary.length) {
    throw bad(`the binary part is ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}`);
  }
  if (raw.length && raw.length !== inputs.length) {
    throw bad('inputs: give every input as binary data (parameters.binary_data_size) or every input as JSON "data", not a mix');
  }
  const outputs = body.outputs === undefined ? [] : body.outputs;
  if (!Array.isArray(outputs)) throw bad("outputs: expected an array");
  return {
    modelName,
    modelVersion: version,
    id: (body.id as string | undefined) ?? "",
    parameters: parameters(withoutBinaryKeys(body.parameters), "parameters"),
    inputs,
    outputs: outputs.map((o: unknown, i: number) => {
      if (!isObject(o) || typeof o.name !== "string") throw bad(`outputs[${i}].name: expected a string`);
      if (isObject(o.parameters) && o.parameters.binary_data !== undefined && typeof o.parameters.binary_data !== "boolean") {
        throw bad(`outputs[${i}].parameters.binary_data: expected a boolean`);
      }
      return { name: o.name, parameters: parameters(withoutBinaryKeys(o.parameters), `outputs[${i}].parameters`) };
    }),
    rawInputContents: raw,
  };
}

/**
 * Which outputs the client asked for as binary data: an output's own
 * `parameters.binary_data`, else the request's `parameters.binary_data_output`.
 */
function binaryOutputs(body: unknown): (name: string) => boolean {
  const all = isObject(body) && isObject(body.parameters) && body.parameters.binary_data_output === true;
  const own = new Map<string, boolean>();
  if (isObject(body) && Array.isArray(body.outputs)) {
    for (const o of body.outputs)
      if (isObject(o) && typeof o.name === "string" && isObject(o.parameters) && typeof o.parameters.binary_data === "boolean")
        own.set(o.name, o.parameters.binary_data);
  }
  return (name) => own.get(name) ?? all;
}

/** A response that is not one JSON document: the binary data extension's JSON header then raw bytes. */
class BinaryReply {
  constructor(
    readonly header: unknown,
    readonly parts: Buffer[],
  ) {}
}

/** An output tensor as JSON. */
function outputJson(o: Output): Record<string, unknown> {
  return {
    name: o.name,
    datatype: o.data.datatype,
    shape: o.shape,
    data: Array.from(o.data.values as ArrayLike<number | string>),
    ...(o.parameters ? { parameters: o.parameters } : {}),
  };
}

/** Reads a request body of at most `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, `the request body is ${declared} bytes, over the server's limit of ${limit} (--max-message-bytes)`));
      req.resume();
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `the request body is over the server's limit of ${limit} bytes (--max-message-bytes)`));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function parseJson(text: Buffer, what: string): unknown {
  try {
    return JSON.parse(text.toString("utf8"));
  } catch (err) {
    throw bad(`${what} is not valid JSON: ${(err as Error).message.slice(0, 120)}`);
  }
}

/**
 * Reads a JSON body; with `binary` (POST .../infer), also the binary data
 * extension's form: `Inference-Header-Content-Length: n`, a JSON header of n
 * bytes, then the inputs' raw bytes.
 */
async function jsonBody(req: http.IncomingMessage, limit: number, required: boolean, binary = false): Promise<{ json: unknown; rest?: Buffer }> {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  const headerLength = req.headers["inference-header-content-length"];
  if (headerLength !== undefined && !binary) throw bad("Inference-Header-Content-Length: the binary data extension is only for POST /v2/models/{model}/infer");
  const body = await readBody(req, limit);
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!/^\d+$/.test(String(headerLength)) || n > body.length) {
      throw bad(
        `Inference-Header-Content-Length: expected the JSON header's length in bytes (0 to the body's ${body.length}), got ${JSON.stringify(String(headerLength).slice(0, 20))}`,
      );
    }
    // The body is the JSON header then bytes: Triton's clients send application/octet-stream (or nothing).
    if (type && type !== "application/octet-stream" && type !== "application/json") {
      throw new HttpError(415, `expected Content-Type: application/octet-stream with Inference-Header-Content-Length, got ${JSON.stringify(type)}`);
    }
    return { json: parseJson(body.subarray(0, n), "the JSON header (the first Inference-Header-Content-Length bytes)"), rest: body.subarray(n) };
  }
  if (body.length === 0 && !required) return { json: {} };
  // No Content-Type is taken as JSON (tritonclient.http sends none, and Triton accepts that); another type is refused.
  if (type && type !== "application/json") throw new HttpError(415, `expected Content-Type: application/json, got ${JSON.stringify(type)}`);
  return { json: parseJson(body, "the request body") };
}

/** What the HTTP server needs of the running server. */
export interface HttpContext {
  config: ServerConfig;
  store: ModelStore;
  log: Logger;
  metrics: Metrics;
  inference: InferenceHandlers;
  /** Whether the server is serving (false once shutting down). */
  serving: () => boolean;
}

type Route = [method: string, pattern: RegExp, label: string, handler: (m: RegExpMatchArray, req: http.IncomingMessage) => Promise<unknown> | unknown];

/** The request handler of the HTTP port. */
export function httpHandler(ctx: HttpContext): http.RequestListener {
  const { config, store, inference, log, metrics } = ctx;
  const limit = config.maxMessageBytes;
  const model = "/v2/models/([^/]+)(?:/versions/([^/]+))?";
  const name = (m: RegExpMatchArray) => decodeURIComponent(m[1]);
  const version = (m: RegExpMatchArray) => (m[2] ? decodeURIComponent(m[2]) : "");
  const routes: Route[] = [
    ["GET", /^\/v2\/health\/live$/, "/v2/health/live", () => ({ live: true })],
    [
      "GET",
      /^\/v2\/health\/ready$/,
      "/v2/health/ready",
      () => {
        if (!ctx.serving()) throw new HttpError(503, "the server is shutting down");
        return { ready: true };
      },
    ],
    ["GET", /^\/v2$/, "/v2", () => inference.serverMetadata()],
    [
      "GET",
      /^\/v2\/models$/,
      "/v2/models",
      () => ({
        models: store.list().map((m) => ({ name: m.name, version: modelVersion(m), kind: m.kind, state: store.cached(m.name) ? "READY" : "UNAVAILABLE" })),
      }),
    ],
    [
      "GET",
      new RegExp(`^${model}/ready$`),
      "/v2/models/{model}/ready",
      (m) => {
        if (!inference.modelReady(name(m), version(m)))
          throw new HttpError(400, `model '${name(m)}'${version(m) ? ` version '${version(m)}'` : ""} is not ready`);
        return { name: name(m), ready: true };
      },
    ],
    ["GET", new RegExp(`^${model}$`), "/v2/models/{model}", (m) => inference.modelMetadata(name(m), version(m))],
    [
      "POST",
      new RegExp(`^${model}/infer$`),
      "/v2/models/{model}/infer",
      async (m, req) => {
        const { json, rest } = await jsonBody(req, limit, true, true);
        const request = inferRequest(json, name(m), version(m), rest);
        const { meta, outputs } = await inference.infer(request);
        const head = { model_name: meta.name, model_version: modelVersion(meta), ...(request.id ? { id: request.id } : {}) };
        const binary = binaryOutputs(json);
        if (!outputs.some((o) => binary(o.name))) return { ...head, outputs: outputs.map(outputJson) };
        const parts: Buffer[] = [];
        const tensors = outputs.map((o) => {
          if (!binary(o.name)) return outputJson(o);
          const bytes = rawBytes(o);
          parts.push(bytes);
          const { data: _data, ...rest } = outputJson(o);
          return { ...rest, parameters: { ...(o.parameters ?? {}), binary_data_size: bytes.length } };
        });
        return new BinaryReply({ ...head, outputs: tensors }, parts);
      },
    ],
    [
      "POST",
      /^\/v2\/repository\/index$/,
      "/v2/repository/index",
      async (_m, req) => {
        const { json } = await jsonBody(req, limit, false);
        return inference.repositoryIndex(isObject(json) && json.ready === true);
      },
    ],
    [
      "POST",
      /^\/v2\/repository\/models\/([^/]+)\/load$/,
      "/v2/repository/models/{model}/load",
      async (m, req) => {
        const { json } = await jsonBody(req, limit, false);
        await inference.load(name(m), isObject(json) && isObject(json.parameters) ? json.parameters : {});
        return {};
      },
    ],
    [
      "POST",
      /^\/v2\/repository\/models\/([^/]+)\/unload$/,
      "/v2/repository/models/{model}/unload",
      async (m, req) => {
        await jsonBody(req, limit, false);
        inference.unload(name(m));
        return {};
      },
    ],
  ];
  const open = new Set(["/v2/health/live", "/v2/health/ready", "/healthz", "/readyz"]);

  return (req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    let route = "unmatched";
    const send = (code: number, body: unknown, type = "application/json") => {
      if (body instanceof BinaryReply) {
        const header = Buffer.from(JSON.stringify(body.header));
        const all = Buffer.concat([header, ...body.parts]);
        res
          .writeHead(code, { "content-type": "application/octet-stream", "inference-header-content-length": header.length, "content-length": all.length })
          .end(all);
      } else {
        const text = type === "application/json" ? JSON.stringify(body) : String(body);
        res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(text) }).end(text);
      }
      metrics.httpDuration.labels({ route, code: String(code) }).observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (code >= 400) log.info({ method: req.method, path: path.slice(0, 200), status: code, ms: Number(process.hrtime.bigint() - started) / 1e6 }, "http");
    };
    const fail = (err: unknown) => {
      if (err instanceof HttpError) return send(err.httpStatus, { error: err.message });
      const e = toServiceError(err, log);
      send(HTTP_STATUS[e.code] ?? 500, { error: e.details });
    };
    // Plain probes and metrics first: no JSON, no auth for the probes.
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      route = path;
      if (path === "/readyz" && !ctx.serving()) return send(503, "shutting down\n", "text/plain");
      return send(200, "ok\n", "text/plain");
    }
    if (config.authToken && !open.has(path)) {
      const given = bearerToken(req.headers.authorization);
      if (given === undefined || !sameSecret(given, config.authToken)) {
        res.setHeader("www-authenticate", "Bearer");
        return send(401, { error: given === undefined ? "missing bearer token (header 'Authorization: Bearer <token>')" : "invalid bearer token" });
      }
    }
    if (req.method === "GET" && path === "/metrics") {
      route = "/metrics";
      metrics.registry.metrics().then((text) => send(200, text, metrics.registry.contentType), fail);
      return;
    }
    for (const [method, pattern, label, handler] of routes) {
      const m = pattern.exec(path);
      if (!m) continue;
      route = label; // a template, so that the metric's labels stay few
      if (req.method !== method) return send(405, { error: `${req.method} is not allowed on ${path.slice(0, 200)} (use ${method})` });
      Promise.resolve()
        .then(() => handler(m, req))
        .then((body) => send(200, body), fail);
      return;
    }
    send(404, { error: `no such endpoint: ${req.method} ${path.slice(0, 200)}` });
  };
}

/** Starts the HTTP server on `port` (0: any free one). */
export function serveHttp(ctx: HttpContext, host: string, port: number): Promise<http.Server> {
  // A request must arrive whole within --upload-idle-seconds (default 30 s), as an upload must keep moving on gRPC.
  const requestTimeout = ctx.config.uploadIdleSeconds * 1000;
  const server = http.createServer({ requestTimeout, headersTimeout: Math.min(30_000, requestTimeout), keepAliveTimeout: 65_000 }, httpHandler(ctx));
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE" ? new Error(`--http-port ${port}: ${host}:${port} is in use (another server?); choose another port, 0 for any, or off`) : err,
      ),
    );
    server.listen(port, host, () => resolve(server));
  });
}
