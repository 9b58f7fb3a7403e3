import { status, type ServerReadableStream, type ServerWritableStream } from "@grpc/grpc-js";
import { CrfModel, XgbModel, CRF_PRESETS } from "@mlbridge/core";
import {
  ModelFormat,
  type ExportModelRequest,
  type ExportModelResponse,
  type ImportModelHeader,
  type ImportModelRequest,
  type ImportModelResponse,
  type ModelServiceServer,
} from "../generated/mlbridge/v1/model_service";
import { ModelKind } from "../generated/mlbridge/v1/types";
import { clientStream, headerThenData, serverStream, unary } from "../calls";
import type { ServiceContext } from "../context";
import { fromTemplate, toModelInfo } from "../convert";
import { invalid, statusError } from "../errors";
import { checkModelName, type ModelKindName } from "../store";
import { receiveBytes } from "./common";

const CHUNK = 1024 * 1024;

function kindName(kind: ModelKind, field: string, required: boolean): ModelKindName | undefined {
  if (kind === ModelKind.MODEL_KIND_CRF) return "crf";
  if (kind === ModelKind.MODEL_KIND_XGBOOST) return "xgboost";
  if (kind === ModelKind.MODEL_KIND_UNSPECIFIED && !required) return undefined;
  throw invalid(field, kind === ModelKind.MODEL_KIND_UNSPECIFIED ? "required" : `unknown value ${kind}`);
}

/** ModelService: the model store over the API. */
export function modelService(ctx: ServiceContext): ModelServiceServer {
  const { store, log, config } = ctx;

  async function exportModel(call: ServerWritableStream<ExportModelRequest, ExportModelResponse>): Promise<void> {
    const { name, format } = call.request;
    const meta = store.meta(name);
    let bytes: Buffer;
    if (meta.kind === "crf") {
      if (format !== ModelFormat.MODEL_FORMAT_UNSPECIFIED && format !== ModelFormat.MODEL_FORMAT_CRFSUITE) {
        throw invalid("format", `a CRF model exports only as MODEL_FORMAT_CRFSUITE`);
      }
      bytes = await store.bytes(name);
    } else if (format === ModelFormat.MODEL_FORMAT_XGBOOST_JSON) {
      const loaded = await store.load(name, "xgboost");
      bytes = (loaded.model as XgbModel).toBuffer("json");
    } else if (format === ModelFormat.MODEL_FORMAT_UNSPECIFIED || format === ModelFormat.MODEL_FORMAT_XGBOOST_UBJ) {
      bytes = await store.bytes(name);
    } else {
      throw invalid("format", "an XGBoost model exports as MODEL_FORMAT_XGBOOST_JSON or MODEL_FORMAT_XGBOOST_UBJ");
    }
    call.write({ model: toModelInfo(meta), chunk: Buffer.alloc(0) });
    for (let i = 0; i < bytes.length && !call.cancelled; i += CHUNK) {
      if (!call.write({ model: undefined, chunk: bytes.subarray(i, i + CHUNK) })) await new Promise((r) => call.once("drain", r));
    }
  }

  async function importModel(call: ServerReadableStream<ImportModelRequest, ImportModelResponse>): Promise<ImportModelResponse> {
    const { header, rest } = await headerThenData<ImportModelRequest, ImportModelHeader>(call, "header", ctx.config.uploadIdleSeconds);
    const name = checkModelName(header.name, "header.name");
    const kind = kindName(header.kind, "header.kind", true)!;
    const template = fromTemplate(header.featureTemplate, "header.feature_template");
    const f = header.format;
    if (kind === "crf" && f !== ModelFormat.MODEL_FORMAT_UNSPECIFIED && f !== ModelFormat.MODEL_FORMAT_CRFSUITE) {
      throw invalid("header.format", "a CRF model is imported as MODEL_FORMAT_CRFSUITE");
    }
    if (kind === "xgboost" && f === ModelFormat.MODEL_FORMAT_CRFSUITE) throw invalid("header.format", "MODEL_FORMAT_CRFSUITE is not an XGBoost format");
    if (header.failIfExists && store.has(name)) throw statusError(status.ALREADY_EXISTS, `model '${name}' already exists`);
    const bytes = await receiveBytes(rest, "chunk", config.maxUploadBytes, () => undefined);
    if (!bytes) throw invalid("chunk", "no model bytes were sent after the header");
    // Validate by loading, before anything is replaced.
    const meta = await store.withLock(name, async () => {
      if (header.failIfExists && store.has(name)) throw statusError(status.ALREADY_EXISTS, `model '${name}' already exists`);
      if (kind === "crf") {
        let model: CrfModel;
        try {
          model = CrfModel.fromBuffer(bytes);
        } catch (err) {
          throw invalid("chunk", `not a CRFsuite model: ${(err as Error).message}`);
        }
        return store.save(
          {
            name,
            kind,
            format: "crfsuite",
            parameters: { imported: "true" },
            metrics: {},
            labels: model.labels,
            featureNames: [...new Set((template ?? CRF_PRESETS.book.template).map((t) => t.column))],
            featureTemplate: template ?? CRF_PRESETS.book.template,
          },
          bytes,
          model,
        );
      }
      const model = await XgbModel.fromUntrustedBuffer(bytes);
      try {
        if (header.classNames.length) model.setClassNames(header.classNames);
        const stored = model.toBuffer("ubj");
        return await store.save(
          { name, kind, format: "xgboost-ubj", parameters: { imported: "true", objective: model.objective }, metrics: {}, labels: model.classNames, featureNames: model.featureNames },
          stored,
          model,
        );
      } catch (err) {
        model.dispose();
        throw err;
      }
    });
    log.info({ model: name, kind, bytes: bytes.length }, "model imported");
    return { model: toModelInfo(meta) };
  }

  return {
    listModels: unary(log, (req) => ({ models: store.list(kindName(req.kind, "kind", false)).map(toModelInfo) })),
    getModel: unary(log, (req) => ({ model: toModelInfo(store.meta(req.name)) })),
    deleteModel: unary(log, async (req) => {
      checkModelName(req.name, "name");
      await store.withLock(req.name, () => store.delete(req.name));
      return {};
    }),
    exportModel: serverStream(log, exportModel),
    importModel: clientStream(log, importModel),
  };
}
