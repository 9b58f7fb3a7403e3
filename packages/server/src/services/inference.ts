import { readFileSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import type { ModelRuntime, RuntimeModel } from "@mlbridge/core";
import type {
  GRPCInferenceServiceServer,
  ModelInferRequest,
  ModelInferResponse,
  ModelMetadataResponse,
  RepositoryIndexResponse_ModelIndex,
} from "../generated/inference/grpc_predict_v2";
import { unary } from "../calls";
import type { ServiceContext } from "../context";
import { clip, invalid, statusError } from "../errors";
import { checkModelName, type ModelMeta } from "../store";
import { encodeOutputs, requestInputs, tensorInput, type Output } from "../tensors";
import { withModel } from "./common";

/**
 * The Open Inference Protocol (KServe V2) `inference.GRPCInferenceService`
 * over the same model store and cache as the mlbridge services. The mapping
 * (tensor names, shapes, the CRF BYTES layout) is in docs/inference-protocol.md.
 */

/** The server's name and version in ServerMetadata. */
export const SERVER_NAME = "mlbridge";
export const SERVER_VERSION = (JSON.parse(readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;
/** Protocol extensions served beside the core API. */
export const EXTENSIONS = ["model_repository"];

const NOT_LOADED = "not loaded in memory: loaded by the first ModelInfer or by RepositoryModelLoad";

/** A model's version in the protocol: its store version (ModelInfo.version), as a string. */
export function modelVersion(meta: ModelMeta): string {
  return String(meta.version ?? 1);
}

/** Checks an optional version against the stored one. @throws NOT_FOUND */
function checkVersion(meta: ModelMeta, version: string): void {
  if (version && version !== modelVersion(meta)) {
    throw statusError(status.NOT_FOUND, `model '${meta.name}' has no version '${clip(version)}' (its version is '${modelVersion(meta)}')`);
  }
}

/** The request's output names, with where each is, for the runtime. */
const requested = (req: ModelInferRequest) => req.outputs.map((o, i) => ({ name: o.name, field: `outputs[${i}]` }));

/** Runs a ModelInfer request's tensors on a loaded model (the store's, or one ModelMesh loaded: services/modelmesh.ts). */
export function inferOn(runtime: ModelRuntime, model: RuntimeModel, meta: ModelMeta, req: ModelInferRequest): Promise<Output[]> {
  if (req.inputs.length === 0) throw invalid("inputs", "at least one input tensor is required");
  const inputs = requestInputs(req.inputs, req.rawInputContents).map(tensorInput);
  return runtime.infer(model, meta, inputs, requested(req));
}

/** The inference protocol's operations over the store, independent of the transport and of the model kinds (each kind's runtime answers). */
export function inferenceHandlers(ctx: ServiceContext) {
  const { store, log, runtimes } = ctx;

  /** Runs a ModelInfer request: the model's metadata and the output tensors, before any encoding. */
  async function infer(req: ModelInferRequest): Promise<{ meta: ModelMeta; outputs: Output[] }> {
    const meta = await store.find(checkModelName(req.modelName, "model_name"));
    checkVersion(meta, req.modelVersion);
    if (req.inputs.length === 0) throw invalid("inputs", "at least one input tensor is required");
    const runtime = runtimes.get(meta.kind);
    // The metadata of the version that answers (a rollout may replace the one found above).
    return withModel(store, meta.name, runtime, async (model, served) => {
      checkVersion(served, req.modelVersion);
      return { meta: served, outputs: await inferOn(runtime, model, served, req) };
    });
  }

  function indexEntry(meta: ModelMeta): RepositoryIndexResponse_ModelIndex {
    const loaded = store.cached(meta.name) !== undefined;
    return { name: meta.name, version: modelVersion(meta), state: loaded ? "READY" : "UNAVAILABLE", reason: loaded ? "" : NOT_LOADED };
  }

  return {
    serverMetadata: () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: EXTENSIONS }),
    modelReady(name: string, version: string): boolean {
      if (!store.has(name)) return false;
      const meta = store.meta(name);
      return !version || version === modelVersion(meta);
    },
    async modelMetadata(name: string, version: string): Promise<ModelMetadataResponse> {
      const meta = await store.find(checkModelName(name, "name"));
      checkVersion(meta, version);
      const runtime = runtimes.get(meta.kind);
      const tensors = await runtime.describe(meta, async () => (await store.load(meta.name, runtime)).model);
      return { name: meta.name, versions: [modelVersion(meta)], platform: runtime.platform, ...tensors };
    },
    infer,
    repositoryIndex: (ready: boolean) =>
      store
        .list()
        .map(indexEntry)
        .filter((e) => !ready || e.state === "READY"),
    async load(name: string, parameters: Record<string, unknown>): Promise<void> {
      checkModelName(name, "model_name");
      const keys = Object.keys(parameters);
      if (keys.length) {
        throw invalid(
          "parameters",
          `not supported (got ${keys.join(", ")}): mlbridge serves the models of its store; add models with ModelService.ImportModel or by training`,
        );
      }
      await store.load(name);
      log.info({ model: name }, "model loaded (inference protocol)");
    },
    unload(name: string): void {
      checkModelName(name, "model_name");
      const was = store.evict(name);
      log.info({ model: name, wasLoaded: was }, "model unloaded from memory (inference protocol)");
    },
  };
}

/** The inference protocol's operations, shared by gRPC (inferenceService) and HTTP (http.ts). */
export type InferenceHandlers = ReturnType<typeof inferenceHandlers>;

/** `inference.GRPCInferenceService` over inferenceHandlers. */
export function inferenceService(ctx: ServiceContext, h: InferenceHandlers = inferenceHandlers(ctx)): GRPCInferenceServiceServer {
  const { log } = ctx;
  return {
    serverLive: unary(log, () => ({ live: true })),
    serverReady: unary(log, () => ({ ready: true })),
    serverMetadata: unary(log, () => h.serverMetadata()),
    modelReady: unary(log, (req) => ({ ready: h.modelReady(req.name, req.version) })),
    modelMetadata: unary(log, (req) => h.modelMetadata(req.name, req.version)),
    modelInfer: unary(log, async (req): Promise<ModelInferResponse> => {
      const { meta, outputs } = await h.infer(req);
      return { modelName: meta.name, modelVersion: modelVersion(meta), id: req.id, parameters: {}, ...encodeOutputs(outputs, req.rawInputContents.length > 0) };
    }),
    repositoryIndex: unary(log, (req) => ({ models: h.repositoryIndex(req.ready) })),
    // KServe's Python server numbers model_name 1, where Triton (and this file) has repository_name.
    repositoryModelLoad: unary(log, async (req) => {
      await h.load(req.modelName || req.repositoryName, req.parameters);
      return {};
    }),
    repositoryModelUnload: unary(log, (req) => {
      h.unload(req.modelName || req.repositoryName);
      return {};
    }),
  };
}
