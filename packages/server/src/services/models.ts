import type { ServerReadableStream, ServerWritableStream } from "@grpc/grpc-js";
import type { ModelRuntime } from "@mlbridge/core";
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
import { formatEnumName, formatName, fromTemplate, kindName, toModelInfo } from "../convert";
import { invalid } from "../errors";
import { checkModelName } from "../store";
import { receiveBytes } from "./common";

const CHUNK = 1024 * 1024;

/** The format asked for, checked against the runtime's; undefined for UNSPECIFIED. */
function checkFormat(runtime: ModelRuntime, format: ModelFormat, field: string, verb: string): string | undefined {
  if (format === ModelFormat.MODEL_FORMAT_UNSPECIFIED) return undefined;
  const name = formatName(format);
  if (name && runtime.formats.includes(name)) return name;
  throw invalid(field, `a ${runtime.kind} model ${verb} ${runtime.formats.map(formatEnumName).join(" or ")}`);
}

/** ModelService: the model store over the API. */
export function modelService(ctx: ServiceContext): ModelServiceServer {
  const { store, log, config, runtimes } = ctx;

  /** The runtime of an API kind. @throws INVALID_ARGUMENT naming `field` */
  function runtimeOf(kind: ModelKind, field: string): ModelRuntime {
    const name = kindName(kind);
    if (name && runtimes.has(name)) return runtimes.get(name);
    throw invalid(field, kind === ModelKind.MODEL_KIND_UNSPECIFIED ? "required" : `unknown value ${kind}`);
  }

  async function exportModel(call: ServerWritableStream<ExportModelRequest, ExportModelResponse>): Promise<void> {
    const { name, format } = call.request;
    const meta = await store.find(name);
    const runtime = runtimes.get(meta.kind);
    const bytes = await runtime.export(
      async () => (await store.load(name, runtime)).model,
      () => store.bytes(name),
      checkFormat(runtime, format, "format", "exports as") ?? runtime.formats[0],
    );
    call.write({ model: toModelInfo(meta), chunk: Buffer.alloc(0) });
    for (let i = 0; i < bytes.length && !call.cancelled; i += CHUNK) {
      if (!call.write({ model: undefined, chunk: bytes.subarray(i, i + CHUNK) })) await new Promise((r) => call.once("drain", r));
    }
  }

  async function importModel(call: ServerReadableStream<ImportModelRequest, ImportModelResponse>): Promise<ImportModelResponse> {
    const { header, rest } = await headerThenData<ImportModelRequest, ImportModelHeader>(call, "header", ctx.config.uploadIdleSeconds);
    const name = checkModelName(header.name, "header.name");
    const runtime = runtimeOf(header.kind, "header.kind");
    const kind = runtime.kind;
    const template = fromTemplate(header.featureTemplate, "header.feature_template");
    const format = checkFormat(runtime, header.format, "header.format", "is imported as");
    store.refuseExisting(name, header.failIfExists);
    const bytes = await receiveBytes(rest, "chunk", config.maxUploadBytes, () => undefined);
    if (!bytes) throw invalid("chunk", "no model bytes were sent after the header");
    // Checked by the runtime (one defence, whatever it takes) before anything is replaced.
    const meta = await store.withLock(name, async () => {
      store.refuseExisting(name, header.failIfExists);
      const imported = await runtime.import(bytes, format, { classNames: header.classNames, featureTemplate: template });
      const { model, bytes: stored, ...fields } = imported;
      try {
        return await store.save({ name, kind, ...fields, metrics: {} }, stored, model, { failIfExists: header.failIfExists });
      } catch (err) {
        model.dispose();
        throw err;
      }
    });
    log.info({ model: name, kind, bytes: bytes.length }, "model imported");
    return { model: toModelInfo(meta) };
  }

  return {
    listModels: unary(log, (req) => ({
      models: store.list(req.kind === ModelKind.MODEL_KIND_UNSPECIFIED ? undefined : runtimeOf(req.kind, "kind").kind).map(toModelInfo),
    })),
    getModel: unary(log, async (req) => ({ model: toModelInfo(await store.find(req.name)) })),
    deleteModel: unary(log, async (req) => {
      checkModelName(req.name, "name");
      await store.withLock(req.name, () => store.delete(req.name));
      return {};
    }),
    exportModel: serverStream(log, exportModel),
    importModel: clientStream(log, importModel),
  };
}
