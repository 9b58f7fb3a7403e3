import { readFileSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { compileTemplate, itemFromRow, templateColumns, type NativeItem, type XgbModel } from "@mlbridge/core";
import type {
  GRPCInferenceServiceServer,
  ModelInferRequest,
  ModelInferResponse,
  ModelMetadataResponse,
  ModelMetadataResponse_TensorMetadata as TensorMetadata,
  RepositoryIndexResponse_ModelIndex,
} from "../generated/inference/grpc_predict_v2";
import { unary } from "../calls";
import type { ServiceContext } from "../context";
import { clip, invalid, quote, statusError } from "../errors";
import { checkModelName, type ModelMeta } from "../store";
import { checkDatatype, elementCount, encodeOutputs, readFloats, readIntegers, readStrings, requestInputs, type Input, type Output } from "../tensors";
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

const PLATFORMS = { xgboost: "xgboost_ubj", crf: "crfsuite" } as const;
const XGB_INPUT = "input";
const NOT_LOADED = "not loaded in memory: loaded by the first ModelInfer or by RepositoryModelLoad";

/** A model's one version: the first 12 hex digits of its content's SHA-256. */
export function modelVersion(meta: ModelMeta): string {
  return meta.sha256.slice(0, 12);
}

/** Checks an optional version against the stored one. @throws NOT_FOUND */
function checkVersion(meta: ModelMeta, version: string): void {
  if (version && version !== modelVersion(meta)) {
    throw statusError(status.NOT_FOUND, `model '${meta.name}' has no version '${clip(version)}' (its version is '${modelVersion(meta)}')`);
  }
}

const tensor = (name: string, datatype: string, shape: number[]): TensorMetadata => ({ name, datatype, shape });

/** The requested output names (in request order), or `defaults` when none were requested. */
function requestedOutputs(req: ModelInferRequest, meta: ModelMeta, available: string[], defaults: string[], what = ""): string[] {
  if (req.outputs.length === 0) return defaults;
  const names: string[] = [];
  req.outputs.forEach((o, i) => {
    if (!available.includes(o.name)) {
      throw invalid(`outputs[${i}].name`, `model '${meta.name}'${what} has no output ${quote(o.name)} (its outputs: ${available.join(", ")})`);
    }
    if (!names.includes(o.name)) names.push(o.name);
  });
  return names;
}

/**
 * Parses one token's attributes: tab-separated, each `name` (weight 1) or
 * `name:weight`; in names, `\:` is a colon and `\\` a backslash (CRFsuite's
 * own data format).
 */
export function parseAttributes(text: string, field: string): NativeItem {
  const item: NativeItem = [];
  for (const part of text.split("\t")) {
    if (part === "") continue;
    let name = "";
    let i = 0;
    for (; i < part.length; i++) {
      const ch = part[i];
      if (ch === "\\" && i + 1 < part.length) name += part[++i];
      else if (ch === ":") break;
      else name += ch;
    }
    let weight = 1;
    if (i < part.length) {
      const w = part.slice(i + 1);
      weight = Number(w);
      if (w.trim() === "" || !Number.isFinite(weight)) throw invalid(field, `attribute ${quote(part)}: weight ${quote(w)} is not a finite number`);
    }
    if (!name) throw invalid(field, `attribute ${quote(part)} has an empty name`);
    item.push([name, weight]);
  }
  return item;
}

const classNamesJson = new WeakMap<XgbModel, Record<string, string> | undefined>();
/** The `class_names` output parameter of a model (JSON), computed once per loaded model. */
function classNamesParameter(model: XgbModel): Record<string, string> | undefined {
  if (!classNamesJson.has(model)) classNamesJson.set(model, model.classNames.length ? { class_names: JSON.stringify(model.classNames) } : undefined);
  return classNamesJson.get(model);
}

/** GRPCInferenceService: the Open Inference Protocol over the model store. */
/** The inference protocol's operations over the store, independent of the transport. */
export function inferenceHandlers(ctx: ServiceContext) {
  const { store, log } = ctx;

  async function xgboostMetadata(meta: ModelMeta): Promise<Pick<ModelMetadataResponse, "inputs" | "outputs">> {
    const model = (await store.load(meta.name, "xgboost")).model as XgbModel;
    const outputs = model.isClassifier
      ? [tensor("predict", "INT64", [-1]), tensor("predict_proba", "FP32", [-1, model.numClass > 1 ? model.numClass : 2])]
      : [tensor("predict", "FP32", [-1])];
    return { inputs: [tensor(XGB_INPUT, "FP32", [-1, model.numFeatures || -1])], outputs };
  }

  function crfMetadata(meta: ModelMeta): Pick<ModelMetadataResponse, "inputs" | "outputs"> {
    const inputs = [tensor("attributes", "BYTES", [-1])];
    if (meta.featureTemplate) inputs.push(tensor("tokens", "BYTES", [-1, crfColumns(meta).length]));
    inputs.push(tensor("sequence_lengths", "INT64", [-1]));
    return {
      inputs,
      outputs: [tensor("labels", "BYTES", [-1]), tensor("probability", "FP64", [-1]), tensor("marginals", "FP64", [-1, meta.labels.length || -1])],
    };
  }

  function crfColumns(meta: ModelMeta): string[] {
    return meta.featureNames.length ? meta.featureNames : templateColumns(meta.featureTemplate ?? []);
  }

  async function inferXgboost(req: ModelInferRequest, meta: ModelMeta, inputs: Input[]): Promise<Output[]> {
    if (inputs.length !== 1) {
      throw invalid("inputs", `an XGBoost model takes one input tensor (FP32 or FP64, shape [rows, features]), got ${inputs.length}`);
    }
    const input = inputs[0];
    checkDatatype(input, ["FP32", "FP64"]);
    const shape = input.tensor.shape;
    if (shape.length !== 2) throw invalid(`${input.field}.shape`, `must be [rows, features], got [${shape.join(", ")}]`);
    const count = elementCount(input);
    const [rows, cols] = shape;
    if (rows === 0) throw invalid(`${input.field}.shape[0]`, "rows must be > 0");
    if (cols === 0) throw invalid(`${input.field}.shape[1]`, "features must be > 0");
    const values = readFloats(input, count);
    return withModel(store, meta.name, "xgboost", async (model) => {
      if (model.numFeatures && cols !== model.numFeatures) {
        throw invalid(`${input.field}.shape[1]`, `model '${meta.name}' expects ${model.numFeatures} features per row, got ${cols}`);
      }
      const parameters = classNamesParameter(model);
      if (!model.isClassifier) {
        requestedOutputs(req, meta, ["predict"], ["predict"], ` (objective ${model.objective}, not a classifier)`);
        const pred = await model.predictAsync(values, rows, cols, "default");
        return [{ name: "predict", shape: pred.cols === 1 ? [rows] : [rows, pred.cols], data: { datatype: "FP32", values: pred.values } }];
      }
      const wanted = requestedOutputs(req, meta, ["predict", "predict_proba"], ["predict", "predict_proba"]);
      const pred = await model.predictAsync(values, rows, cols, "probabilities");
      let k = pred.cols;
      let probs = pred.values;
      const classes = new Array<number>(rows);
      if (k === 1) {
        // binary: P(class 1) → [P(class 0), P(class 1)], as scikit-learn's predict_proba
        k = 2;
        probs = new Float32Array(rows * 2);
        for (let r = 0; r < rows; r++) {
          const p = pred.values[r];
          probs[2 * r] = 1 - p;
          probs[2 * r + 1] = p;
          classes[r] = p > 0.5 ? 1 : 0;
        }
      } else {
        for (let r = 0; r < rows; r++) {
          let best = 0;
          for (let c = 1; c < k; c++) if (probs[r * k + c] > probs[r * k + best]) best = c;
          classes[r] = best;
        }
      }
      return wanted.map(
        (name): Output =>
          name === "predict"
            ? { name, shape: [rows], data: { datatype: "INT64", values: classes }, parameters }
            : { name, shape: [rows, k], data: { datatype: "FP32", values: probs }, parameters },
      );
    });
  }

  async function inferCrf(req: ModelInferRequest, meta: ModelMeta, inputs: Input[]): Promise<Output[]> {
    const known = ["attributes", "tokens", "sequence_lengths"];
    const byName = new Map<string, Input>();
    for (const input of inputs) {
      if (!known.includes(input.tensor.name)) {
        throw invalid(`${input.field}.name`, `a CRF model takes inputs 'attributes' or 'tokens', and optionally 'sequence_lengths'; got ${quote(input.tensor.name)}`);
      }
      if (byName.has(input.tensor.name)) throw invalid(`${input.field}.name`, `input '${input.tensor.name}' given twice`);
      byName.set(input.tensor.name, input);
    }
    const attrs = byName.get("attributes");
    const tokens = byName.get("tokens");
    if (!attrs === !tokens) throw invalid("inputs", "give exactly one of 'attributes' (BYTES [tokens]) and 'tokens' (BYTES [tokens, columns])");
    let items: NativeItem[];
    if (attrs) {
      checkDatatype(attrs, ["BYTES"]);
      if (attrs.tensor.shape.length !== 1) throw invalid(`${attrs.field}.shape`, `must be [tokens], got [${attrs.tensor.shape.join(", ")}]`);
      items = readStrings(attrs, elementCount(attrs)).map((s, i) => parseAttributes(s, `${attrs.field} element ${i}`));
    } else {
      const t = tokens!;
      checkDatatype(t, ["BYTES"]);
      if (!meta.featureTemplate) {
        throw invalid(`${t.field}`, `model '${meta.name}' was trained on attributes, without a feature template: send 'attributes'`);
      }
      const columns = crfColumns(meta);
      const shape = t.tensor.shape;
      if (shape.length !== 2 || shape[1] !== columns.length) {
        throw invalid(`${t.field}.shape`, `must be [tokens, ${columns.length}] (columns ${columns.join(", ")}), got [${shape.join(", ")}]`);
      }
      const cells = readStrings(t, elementCount(t));
      const compiled = compileTemplate(meta.featureTemplate, new Map(columns.map((c, i) => [c, i])));
      items = Array.from({ length: shape[0] }, (_, r) => itemFromRow(cells.slice(r * columns.length, (r + 1) * columns.length), compiled));
    }
    const n = items.length;
    let lengths = [n];
    const lens = byName.get("sequence_lengths");
    if (lens) {
      if (lens.tensor.shape.length !== 1) throw invalid(`${lens.field}.shape`, `must be [sequences], got [${lens.tensor.shape.join(", ")}]`);
      lengths = readIntegers(lens, elementCount(lens));
      lengths.forEach((l, i) => {
        if (!(l > 0)) throw invalid(`${lens.field}`, `element ${i}: a sequence length must be > 0, got ${l}`);
      });
      const total = lengths.reduce((a, b) => a + b, 0);
      if (total !== n) throw invalid(`${lens.field}`, `the lengths add up to ${total}, but ${n} tokens were given`);
    }
    if (n === 0) throw invalid(`${(attrs ?? tokens)!.field}.shape`, "at least one token is required");
    const sequences: NativeItem[][] = [];
    let at = 0;
    for (const l of lengths) {
      sequences.push(items.slice(at, at + l));
      at += l;
    }
    const wanted = requestedOutputs(req, meta, ["labels", "probability", "marginals"], ["labels"]);
    const probability = wanted.includes("probability");
    const marginals = wanted.includes("marginals");
    return withModel(store, meta.name, "crf", async (model) => {
      const results = await model.tagMany(sequences, { probability, marginals });
      const labels = model.labels;
      return wanted.map((name): Output => {
        if (name === "labels") return { name, shape: [n], data: { datatype: "BYTES", values: results.flatMap((r) => r.labels) } };
        if (name === "probability") return { name, shape: [results.length], data: { datatype: "FP64", values: Float64Array.from(results, (r) => r.probability ?? 0) } };
        const m = new Float64Array(n * labels.length);
        let row = 0;
        for (const r of results) {
          m.set(r.marginals!, row * labels.length);
          row += r.labels.length;
        }
        return { name, shape: [n, labels.length], data: { datatype: "FP64", values: m }, parameters: { labels: JSON.stringify(labels) } };
      });
    });
  }

  /** Runs a ModelInfer request: the model's metadata and the output tensors, before any encoding. */
  async function infer(req: ModelInferRequest): Promise<{ meta: ModelMeta; outputs: Output[] }> {
    const meta = store.meta(checkModelName(req.modelName, "model_name"));
    checkVersion(meta, req.modelVersion);
    if (req.inputs.length === 0) throw invalid("inputs", "at least one input tensor is required");
    const inputs = requestInputs(req.inputs, req.rawInputContents);
    const outputs = meta.kind === "xgboost" ? await inferXgboost(req, meta, inputs) : await inferCrf(req, meta, inputs);
    return { meta, outputs };
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
      const meta = store.meta(checkModelName(name, "name"));
      checkVersion(meta, version);
      const tensors = meta.kind === "xgboost" ? await xgboostMetadata(meta) : crfMetadata(meta);
      return { name: meta.name, versions: [modelVersion(meta)], platform: PLATFORMS[meta.kind], ...tensors };
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
