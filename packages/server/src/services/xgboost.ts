import type { ServerDuplexStream } from "@grpc/grpc-js";
import {
  float32FromBytes,
  joinRows,
  readFeatureCsv,
  readLabelledCsv,
  trainXgboost,
  xgbPreset,
  checkXgbParams,
  xgboostRuntime,
  type XgbRowsPart,
  type Float32Values,
  type PredictOutput,
  type XgbModel,
  type XgbPrediction,
  type XgbTrainData,
} from "@mlbridge/core";
import {
  PredictOutput as ApiOutput,
  type XgboostServiceServer,
  type XgboostServicePredictRequest,
  type XgboostServicePredictResponse,
  type XgboostServiceTrainRequest,
  type XgboostServiceTrainResponse,
  type XgboostTrainHeader,
} from "../generated/mlbridge/v1/xgboost_service";
import type { DenseMatrix } from "../generated/mlbridge/v1/types";
import { accounted, stoppable, type NameModel, serverStream, unary } from "../calls";
import type { ServiceContext } from "../context";
import { toModelInfo } from "../convert";
import { invalid } from "../errors";
import { denseInput, responseValues } from "../matrix";
import { checkModelName, type ModelMeta } from "../store";
import { receiveBytes, withModel } from "./common";
import { runTraining } from "./training";

const OUTPUTS: Record<number, PredictOutput> = {
  [ApiOutput.PREDICT_OUTPUT_UNSPECIFIED]: "default",
  [ApiOutput.PREDICT_OUTPUT_PROBABILITIES]: "probabilities",
  [ApiOutput.PREDICT_OUTPUT_MARGINS]: "margins",
};

/** Checks a dense matrix message; its values as they came (`values`, or `raw_values` as bytes, which core's predict reads in place). */
export function matrixInput(m: DenseMatrix | undefined, field: string): { values: Float32Values; rows: number; cols: number } {
  if (!m) throw invalid(field, "required");
  if (!m.rows) throw invalid(`${field}.rows`, "must be > 0");
  if (!m.cols) throw invalid(`${field}.cols`, "must be > 0");
  return { values: denseInput(m, field), rows: m.rows, cols: m.cols };
}

/** Like matrixInput, with the values as a Float32Array (training concatenates them). */
export function matrixValues(m: DenseMatrix | undefined, field: string): { values: Float32Array; rows: number; cols: number } {
  const x = matrixInput(m, field);
  return { ...x, values: x.values instanceof Float32Array ? x.values : float32FromBytes(x.values) };
}

/** Inputs up to this many values are predicted synchronously when the model is cached. */
const SYNC_VALUES = 4096;

function toResponse(pred: XgbPrediction, req: XgboostServicePredictRequest, meta: ModelMeta): XgboostServicePredictResponse {
  return {
    rows: pred.rows,
    cols: pred.cols,
    ...responseValues(pred.values, req.rawOutput),
    classNames: pred.classNames ?? [],
    modelVersion: meta.version ?? 1,
  };
}

/** XgboostService: training over a stream and prediction. */
export function xgboostService(ctx: ServiceContext): XgboostServiceServer {
  const { store, log, config } = ctx;

  function train(call: ServerDuplexStream<XgboostServiceTrainRequest, XgboostServiceTrainResponse>, named: NameModel): Promise<void> {
    let h!: XgboostTrainHeader;
    let preset: ReturnType<typeof xgbPreset> | undefined;
    return runTraining(ctx, call, named, {
      kind: xgboostRuntime.kind,
      begin(header: XgboostTrainHeader) {
        h = header;
        const name = checkModelName(h.modelName);
        preset = h.preset ? xgbPreset(h.preset) : undefined;
        checkXgbParams(h.parameters);
        return { name, failIfExists: h.failIfExists };
      },
      async receive(rest, progress): Promise<XgbTrainData> {
        // CSV chunks or rows messages, not both.
        const parts: XgbRowsPart[] = [];
        let cols = 0;
        const csv = await receiveBytes(
          rest,
          "csvChunk",
          config.maxUploadBytes,
          (bytes) => progress({ stage: "receiving", bytesReceived: bytes }),
          (msg, i) => {
            if (msg.payload?.$case !== "rows") return false;
            const r = msg.payload.value;
            const m = matrixValues(r.features, `message ${i}: rows.features`);
            if (cols && m.cols !== cols) throw invalid(`message ${i}: rows.features.cols`, `expected ${cols} like the earlier rows, got ${m.cols}`);
            cols = m.cols;
            if (r.labels.length !== m.rows) throw invalid(`message ${i}: rows.labels`, `expected ${m.rows} labels, got ${r.labels.length}`);
            if (r.weights.length && r.weights.length !== m.rows)
              throw invalid(`message ${i}: rows.weights`, `expected ${m.rows} weights, got ${r.weights.length}`);
            parts.push({
              values: m.values,
              rows: m.rows,
              labels: Float32Array.from(r.labels),
              weights: r.weights.length ? Float32Array.from(r.weights) : undefined,
            });
            return 4 * (m.rows * m.cols + r.labels.length + r.weights.length);
          },
        );
        if (csv && parts.length) throw invalid("payload", "send either csv_chunk or rows messages, not both");
        if (parts.length) return joinRows(parts, cols, { featureNames: h.featureNames, classNames: h.classNames });
        if (!csv) throw invalid("payload", "no training data was sent after the header");
        progress({ stage: "preparing", bytesReceived: csv.length });
        const data = await readLabelledCsv(csv, h.labelColumn || undefined);
        if (h.classNames.length) data.classNames = h.classNames;
        return data;
      },
      fit: (data, signal, progress) =>
        trainXgboost(data, {
          preset: h.preset || undefined,
          params: h.parameters,
          numRounds: h.numRounds,
          testFraction: h.testFraction,
          validationFraction: h.validationFraction,
          seed: h.seed,
          signal,
          onProgress: (p) => progress({ stage: "training", iteration: p.iteration, evalLog: p.evalLog, metrics: p.metrics }),
        }),
      stored(result) {
        const metrics: Record<string, number> = { ...result.metrics };
        if (result.validationAccuracy !== undefined) metrics.validation_accuracy = result.validationAccuracy;
        return {
          fields: {
            format: "xgboost-ubj",
            parameters: {
              ...(h.preset ? { preset: h.preset } : {}),
              ...result.params,
              num_rounds: String(result.rounds),
              test_fraction: String(h.testFraction ?? preset?.testFraction ?? 0.2),
              validation_fraction: String(h.validationFraction ?? preset?.validationFraction ?? 0),
              seed: String(h.seed),
            },
            metrics,
            labels: result.model.classNames,
            featureNames: result.model.featureNames,
          },
          bytes: result.model.toBuffer("ubj"),
        };
      },
      report: (result, meta) => ({
        model: toModelInfo(meta),
        metrics: result.metrics,
        trainRows: result.trainRows,
        testRows: result.testRows,
        validationRows: result.validationRows,
        trainSeconds: result.seconds,
        validationAccuracy: result.validationAccuracy ?? 0,
        rounds: result.rounds,
      }),
      seconds: (result) => result.seconds,
      iterations: (result) => result.rounds,
    });
  }

  async function predict(req: XgboostServicePredictRequest): Promise<XgboostServicePredictResponse> {
    checkModelName(req.modelName);
    const output = OUTPUTS[req.output];
    if (!output) throw invalid("output", `unknown value ${req.output}`);
    const input = req.input;
    if (!input) throw invalid("input", "give a matrix or a csv");
    return withModel(
      store,
      req.modelName,
      xgboostRuntime,
      async (model, meta) => {
        if (input.$case === "matrix") {
          const m = matrixInput(input.value, "matrix");
          return toResponse(await model.predictAsync(m.values, m.rows, m.cols, output, { classNames: !req.omitClassNames }), req, meta);
        }
        if (input.value.length === 0) throw invalid("csv", "the CSV is empty");
        const m = await readFeatureCsv(input.value, model.featureNames, model.numFeatures);
        return toResponse(await model.predictAsync(m.values, m.rows, m.cols, output, { classNames: !req.omitClassNames }), req, meta);
      },
      req.modelVersion,
    );
  }

  /**
   * The common case without a promise or a disk read: a cached model and a
   * small matrix, predicted on the calling thread. Anything else (not cached,
   * CSV input, large input, odd values) falls through to `predict`.
   */
  function predictNow(req: XgboostServicePredictRequest): XgboostServicePredictResponse | undefined {
    if (req.input?.$case !== "matrix") return undefined;
    const loaded = store.cached(req.modelName);
    const output = OUTPUTS[req.output];
    if (!loaded || loaded.meta.kind !== xgboostRuntime.kind || !output) return undefined;
    if (req.modelVersion && req.modelVersion !== (loaded.meta.version ?? 1)) return undefined; // predict says why
    const mat = req.input.value;
    if (mat.rows * mat.cols > SYNC_VALUES) return undefined;
    const m = matrixInput(mat, "matrix");
    return toResponse((loaded.model as XgbModel).predict(m.values, m.rows, m.cols, output, { classNames: !req.omitClassNames }), req, loaded.meta);
  }

  return { train: serverStream(log, stoppable(ctx.stopping, accounted(ctx, xgboostRuntime.kind, train))), predict: unary(log, predict, predictNow) };
}
