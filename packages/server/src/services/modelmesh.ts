/**
 * KServe ModelMesh's model-runtime SPI, `mmesh.ModelRuntime`
 * (proto/mmesh/model-runtime.proto, as published), on its own port
 * (--modelmesh-port), so that ModelMesh places models across mlbridge
 * replicas with no adapter container. The rules of modelmesh-serving's
 * custom-runtime guide, as implemented here:
 *
 * - loadModel reads the model from `modelPath`: a local path (ModelMesh's
 *   storage helper downloaded it there; a file or a folder holding one model),
 *   else the object `modelPath` in `modelKey.bucket` through the server's own
 *   S3 settings (storage helper disabled). The kind is `modelKey.model_type.name`
 *   (`xgboost`, `crfsuite`); `modelType` is ignored, as the guide says.
 *   Bad keys and unknown types answer INVALID_ARGUMENT naming the field, before
 *   anything is read.
 * - Models ModelMesh loads live in memory only, beside the store (never
 *   written to it: each replica holds what ModelMesh placed on it).
 * - A load cancelled by ModelMesh, or unloaded while in flight, leaves
 *   nothing loaded: unloadModel waits for the load to stop and frees what it made.
 * - runtimeStatus purges every loaded and loading model before answering READY.
 * - Inference: the V2 data endpoint (inference.GRPCInferenceService on the main
 *   port) takes the model id from the `mm-model-id` (or `mm-model-id-bin`)
 *   header, else from model_name, which ModelMesh also rewrites to the id
 *   (methodInfos' idInjectionPath [1]); the answer names the model the client
 *   addressed (`mm-vmodel-id`), else the id.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { type Metadata, Server, ServerCredentials, type ServerUnaryCall, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { ModelRuntime, RuntimeModel, RuntimeRegistry } from "@mlbridge/core";
import type { Logger } from "pino";
import { unary } from "../calls";
import type { ServerConfig } from "../config";
import { safeDecoding } from "../decode";
import { observeInterceptor } from "../interceptors";
import type { Metrics } from "../metrics";
import { invalid, quote, statusError } from "../errors";
import type { GRPCInferenceServiceServer, ModelInferRequest, ModelInferResponse } from "../generated/inference/grpc_predict_v2";
import {
  type LoadModelRequest,
  type LoadModelResponse,
  ModelRuntimeService,
  type ModelRuntimeServer,
  RuntimeStatusResponse_Status,
  type RuntimeStatusResponse,
} from "../generated/mmesh/model-runtime";
import { importFile, KIND_NAMES, type ModelSources, runtimeFor } from "../source";
import { checkModelName, type ModelMeta } from "../store";
import { encodeOutputs } from "../tensors";
import { inferOn, SERVER_VERSION } from "./inference";

/** Memory a loaded model is reported to take: its file's bytes times this (the native model, and XGBoost's compiled trees beside it). */
export const SIZE_FACTOR = 2;
/** What runtimeStatus reports beside the capacity. */
export const MESH_DEFAULTS = {
  /** Loads at once: the machine's cores do the parsing. */
  maxLoadingConcurrency: 2,
  modelLoadingTimeoutMs: 90_000,
  /** Conservative: most XGBoost and CRF models are well under 1 MiB on disk. */
  defaultModelSizeInBytes: 2 * 1024 * 1024,
};
/** V2 methods whose request names the model in field 1 (ModelMesh rewrites it to the model id). */
const INFERENCE_METHODS = ["ModelInfer", "ModelMetadata", "ModelReady"].map((m) => `inference.GRPCInferenceService/${m}`);

/** A model ModelMesh loaded. */
interface MeshModel {
  meta: ModelMeta;
  runtime: ModelRuntime;
  model: RuntimeModel;
  sizeBytes: number;
}

/** What a loadModel's modelKey says, checked. */
interface ModelKey {
  kind: string;
  bucket?: string;
  diskSizeBytes?: number;
}

/**
 * Parses the modelKey JSON. Unknown extra attributes are ignored (the guide
 * says more may come).
 * @throws INVALID_ARGUMENT naming the field
 */
export function parseModelKey(raw: string, modelType: string): ModelKey {
  let key: unknown;
  if (raw.trim() === "") key = {};
  else {
    try {
      key = JSON.parse(raw);
    } catch (err) {
      throw invalid("modelKey", `not JSON (${(err as Error).message}): ${quote(raw)}`);
    }
  }
  if (typeof key !== "object" || key === null || Array.isArray(key)) throw invalid("modelKey", `expected a JSON object, got ${quote(raw)}`);
  const k = key as Record<string, unknown>;
  let type: unknown = modelType || undefined;
  if (k.model_type !== undefined) {
    if (typeof k.model_type !== "object" || k.model_type === null)
      throw invalid("modelKey.model_type", `expected an object {"name": …}, got ${quote(JSON.stringify(k.model_type))}`);
    type = (k.model_type as Record<string, unknown>).name;
    if (typeof type !== "string" || type === "") throw invalid("modelKey.model_type.name", "required (a string: xgboost or crfsuite)");
  }
  if (type === undefined) throw invalid("modelKey.model_type.name", "required (a string: xgboost or crfsuite)");
  const kind = KIND_NAMES[String(type).toLowerCase()];
  if (!kind) throw invalid("modelKey.model_type.name", `unknown model type ${quote(type)} (this runtime serves ${Object.keys(KIND_NAMES).join(", ")})`);
  if (k.bucket !== undefined && (typeof k.bucket !== "string" || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(k.bucket)))
    throw invalid("modelKey.bucket", `not a bucket name: ${quote(JSON.stringify(k.bucket))}`);
  if (k.storage_key !== undefined && typeof k.storage_key !== "string") throw invalid("modelKey.storage_key", "expected a string");
  if (k.disk_size_bytes !== undefined && !(Number.isSafeInteger(k.disk_size_bytes) && (k.disk_size_bytes as number) >= 0))
    throw invalid("modelKey.disk_size_bytes", `expected a non-negative integer, got ${quote(JSON.stringify(k.disk_size_bytes))}`);
  return { kind, bucket: k.bucket as string | undefined, diskSizeBytes: k.disk_size_bytes as number | undefined };
}

/** The models ModelMesh placed on this server: loaded, and loads in flight. */
export class MeshModels {
  private readonly loaded = new Map<string, MeshModel>();
  private readonly loading = new Map<string, { abort: AbortController; done: Promise<MeshModel> }>();

  constructor(
    private readonly sources: ModelSources,
    private readonly runtimes: RuntimeRegistry,
    private readonly log: Logger,
  ) {}

  /** A loaded model, or undefined. */
  get(id: string): MeshModel | undefined {
    return this.loaded.get(id);
  }

  /** Ids of the loaded models. */
  ids(): string[] {
    return [...this.loaded.keys()];
  }

  /** Loads at once (in flight). */
  get inFlight(): number {
    return this.loading.size;
  }

  /**
   * Loads a model (an already loaded or loading id answers with that one).
   * `signal` is the call's cancellation: a cancelled load keeps nothing.
   */
  async load(req: LoadModelRequest, signal: AbortSignal): Promise<MeshModel> {
    const id = checkModelName(req.modelId, "modelId");
    const key = parseModelKey(req.modelKey, req.modelType);
    if (!req.modelPath) throw invalid("modelPath", "required (a local path, or the object key in modelKey.bucket)");
    let uri: string;
    if (path.isAbsolute(req.modelPath)) uri = req.modelPath;
    else if (key.bucket) uri = `s3://${key.bucket}/${req.modelPath.replace(/^\/+/, "")}`;
    else throw invalid("modelKey.bucket", `required when modelPath (${quote(req.modelPath)}) is not a local path: the object's bucket`);
    const done = this.loaded.get(id);
    if (done) return done;
    const pending = this.loading.get(id);
    if (pending) return pending.done;

    const abort = new AbortController();
    const onCancel = () => abort.abort();
    signal.addEventListener("abort", onCancel, { once: true });
    const work = (async (): Promise<MeshModel> => {
      const source = await this.sources.read(uri, abort.signal);
      if (abort.signal.aborted) throw statusError(status.CANCELLED, `loading model '${id}' was cancelled`);
      const runtime = runtimeFor(this.runtimes, source.bytes, key.kind);
      const imported = await importFile(runtime, source);
      const { model, bytes, ...fields } = imported;
      if (abort.signal.aborted) {
        model.dispose();
        throw statusError(status.CANCELLED, `loading model '${id}' was cancelled`);
      }
      const meta: ModelMeta = {
        name: id,
        kind: runtime.kind,
        ...fields,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        sizeBytes: bytes.length,
        version: 1,
        createdAt: new Date().toISOString(),
        metrics: {},
      };
      const entry: MeshModel = { meta, runtime, model, sizeBytes: Math.max(source.bytes.length, bytes.length) * SIZE_FACTOR };
      this.loaded.set(id, entry);
      this.log.info({ model: id, kind: runtime.kind, from: source.location, sizeBytes: entry.sizeBytes }, "ModelMesh: model loaded");
      return entry;
    })();
    this.loading.set(id, { abort, done: work });
    try {
      return await work;
    } finally {
      signal.removeEventListener("abort", onCancel);
      if (this.loading.get(id)?.done === work) this.loading.delete(id);
    }
  }

  /** Unloads a model; a load in flight is stopped first and whatever it made freed. Unknown ids are fine. */
  async unload(id: string): Promise<boolean> {
    const pending = this.loading.get(id);
    if (pending) {
      pending.abort.abort();
      await pending.done.catch(() => undefined);
    }
    const entry = this.loaded.get(id);
    if (!entry) return false;
    this.loaded.delete(id);
    entry.model.dispose(); // deferred by the addon while an inference uses it
    this.log.info({ model: id }, "ModelMesh: model unloaded");
    return true;
  }

  /** Unloads everything, loads in flight included. @returns how many models were loaded or loading */
  async purge(): Promise<number> {
    const ids = new Set([...this.loaded.keys(), ...this.loading.keys()]);
    for (const id of ids) await this.unload(id);
    return ids.size;
  }
}

/** `mmesh.ModelRuntime` over `mesh`. */
export function modelRuntimeService(mesh: MeshModels, config: ServerConfig, log: Logger): ModelRuntimeServer {
  const ready = (): RuntimeStatusResponse => ({
    status: RuntimeStatusResponse_Status.READY,
    capacityInBytes: config.modelmeshCapacityBytes,
    ...MESH_DEFAULTS,
    runtimeVersion: SERVER_VERSION,
    numericRuntimeVersion: 0,
    methodInfos: Object.fromEntries(INFERENCE_METHODS.map((m) => [m, { idInjectionPath: [1] }])),
    limitModelConcurrency: false,
    allowAnyMethod: false,
  });
  return {
    loadModel: unary(log, async (req, call): Promise<LoadModelResponse> => {
      const ac = new AbortController();
      if (call.cancelled) ac.abort();
      else call.once("cancelled", () => ac.abort());
      const entry = await mesh.load(req, ac.signal);
      return { sizeInBytes: entry.sizeBytes, maxConcurrency: 0 };
    }),
    unloadModel: unary(log, async (req) => {
      if (!req.modelId) throw invalid("modelId", "required");
      await mesh.unload(req.modelId);
      return {};
    }),
    predictModelSize: unary(log, (req) => {
      checkModelName(req.modelId, "modelId");
      const key = parseModelKey(req.modelKey, req.modelType);
      return { sizeInBytes: key.diskSizeBytes ? key.diskSizeBytes * SIZE_FACTOR : MESH_DEFAULTS.defaultModelSizeInBytes };
    }),
    modelSize: unary(log, (req) => {
      const entry = mesh.get(req.modelId);
      if (!entry) throw statusError(status.NOT_FOUND, `modelId: model ${quote(req.modelId)} is not loaded`);
      return { sizeInBytes: entry.sizeBytes };
    }),
    runtimeStatus: unary(log, async () => {
      const purged = await mesh.purge();
      if (purged) log.warn({ purged }, "ModelMesh: runtimeStatus purged the models loaded before (ModelMesh restarted)");
      return ready();
    }),
  };
}

/** The model id a V2 call is for: the `mm-model-id` header (or its `-bin` form), else the request's name. */
function meshIds(metadata: Metadata, name: string): { id: string; vmodel?: string } {
  const text = (k: string) => {
    const v = metadata.get(k)[0];
    return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
  };
  const id = text("mm-model-id") ?? text("mm-model-id-bin") ?? name;
  return { id, vmodel: text("mm-vmodel-id") ?? text("mm-vmodel-id-bin") };
}

/**
 * The V2 service of the main port with ModelMesh's models in front: a call
 * for a model ModelMesh loaded (by header or name) is answered by it; any
 * other goes to the store's handlers as before.
 */
export function meshInferenceService(mesh: MeshModels, base: GRPCInferenceServiceServer, log: Logger): GRPCInferenceServiceServer {
  type Call<Req> = ServerUnaryCall<Req, unknown>;
  return {
    ...base,
    modelInfer(call, callback) {
      const { id, vmodel } = meshIds(call.metadata, call.request.modelName);
      const entry = mesh.get(id);
      if (!entry) {
        if (id !== call.request.modelName) call.request.modelName = id;
        return base.modelInfer(call, callback);
      }
      unary(log, async (req: ModelInferRequest): Promise<ModelInferResponse> => {
        const outputs = await inferOn(entry.runtime, entry.model, entry.meta, req);
        return { modelName: vmodel ?? id, modelVersion: "1", id: req.id, parameters: {}, ...encodeOutputs(outputs, req.rawInputContents.length > 0) };
      })(call as Call<ModelInferRequest> as never, callback);
    },
    modelMetadata(call, callback) {
      const { id, vmodel } = meshIds(call.metadata, call.request.name);
      const entry = mesh.get(id);
      if (!entry) {
        if (id !== call.request.name) call.request.name = id;
        return base.modelMetadata(call, callback);
      }
      unary(log, async () => {
        const tensors = await entry.runtime.describe(entry.meta, async () => entry.model);
        return { name: vmodel ?? id, versions: ["1"], platform: entry.runtime.platform, ...tensors };
      })(call as never, callback);
    },
    modelReady(call, callback) {
      const { id } = meshIds(call.metadata, call.request.name);
      if (mesh.get(id)) return callback(null, { ready: true });
      if (id !== call.request.name) call.request.name = id;
      return base.modelReady(call, callback);
    },
  };
}

/** Serves `mmesh.ModelRuntime` on --modelmesh-host:--modelmesh-port (plaintext: ModelMesh calls it inside the pod). @returns the server and its port */
export async function serveModelMesh(mesh: MeshModels, config: ServerConfig, log: Logger, metrics: Metrics): Promise<{ server: Server; port: number }> {
  const server = new Server({ interceptors: [observeInterceptor(log, metrics)], "grpc.max_receive_message_length": 4 * 1024 * 1024 });
  server.addService(safeDecoding(ModelRuntimeService), modelRuntimeService(mesh, config, log) as unknown as UntypedServiceImplementation);
  const host = config.modelmeshHost.includes(":") ? `[${config.modelmeshHost}]` : config.modelmeshHost;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${config.modelmeshPort ?? 0}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info({ host: config.modelmeshHost, port }, "ModelMesh runtime SPI (mmesh.ModelRuntime) listening");
  return { server, port };
}
