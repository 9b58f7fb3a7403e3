import type { ServerDuplexStream, ServerUnaryCall } from "@grpc/grpc-js";
import {
  CRF_PRESETS,
  crfRuntime,
  fitCrf,
  fitCrfCsv,
  predictCrfCsv,
  resolveCrfOptions,
  type CrfAlgorithm,
  type CrfFeatureTemplate,
  type CrfProgress,
  type CrfFitOptions,
  type CrfSequence,
  unpackSequences,
} from "@mlbridge/core";
import {
  CrfAlgorithm as ApiAlgorithm,
  type CrfServiceServer,
  type CrfServicePredictRequest,
  type CrfServicePredictResponse,
  type CrfServiceTagRequest,
  type CrfServiceTagResponse,
  type CrfServiceTagStreamRequest,
  type CrfServiceTagStreamResponse,
  type CrfServiceTrainRequest,
  type CrfServiceTrainResponse,
  type CrfPackedSequences,
  type CrfTrainHeader,
} from "../generated/mlbridge/v1/crf_service";
import { accounted, stoppable, type NameModel, messages, serverStream, unary } from "../calls";
import type { ServiceContext } from "../context";
import { fromTemplate, toModelInfo, toPacked } from "../convert";
import { invalid } from "../errors";
import { checkModelName } from "../store";
import { receiveBytes, withModel } from "./common";
import { runTraining } from "./training";

const ALGORITHMS: Record<number, CrfAlgorithm | undefined> = {
  [ApiAlgorithm.CRF_ALGORITHM_UNSPECIFIED]: undefined,
  [ApiAlgorithm.CRF_ALGORITHM_LBFGS]: "lbfgs",
  [ApiAlgorithm.CRF_ALGORITHM_L2SGD]: "l2sgd",
  [ApiAlgorithm.CRF_ALGORITHM_AP]: "ap",
  [ApiAlgorithm.CRF_ALGORITHM_PA]: "pa",
  [ApiAlgorithm.CRF_ALGORITHM_AROW]: "arow",
};

/** Checks a training header before any data is read: errors come early. */
function fitOptions(h: CrfTrainHeader): CrfFitOptions {
  checkModelName(h.modelName);
  if (!(h.algorithm in ALGORITHMS)) throw invalid("algorithm", `unknown value ${h.algorithm}`);
  if (h.seed > Number.MAX_SAFE_INTEGER) throw invalid("seed", "too large");
  return {
    preset: h.featurePreset || undefined,
    template: fromTemplate(h.featureTemplate, "feature_template"),
    algorithm: ALGORITHMS[h.algorithm],
    params: h.parameters,
    testFraction: h.testFraction,
    noHoldout: h.noHoldout,
    seed: h.seed,
  };
}

function checkTagRequest(req: { modelName: string; packed?: CrfPackedSequences }): CrfPackedSequences {
  checkModelName(req.modelName);
  if (!req.packed || req.packed.sequenceLengths.length === 0) throw invalid("packed.sequence_lengths", "at least one sequence is required");
  return req.packed;
}

/** CrfService: training over a stream, CSV prediction and structured tagging. */
export function crfService(ctx: ServiceContext): CrfServiceServer {
  const { store, log, config } = ctx;

  function train(call: ServerDuplexStream<CrfServiceTrainRequest, CrfServiceTrainResponse>, named: NameModel): Promise<void> {
    let options!: CrfFitOptions;
    let resolved!: ReturnType<typeof resolveCrfOptions>;
    let template: CrfFeatureTemplate | undefined;
    return runTraining(ctx, call, named, {
      kind: crfRuntime.kind,
      begin(header: CrfTrainHeader) {
        options = fitOptions(header);
        resolved = resolveCrfOptions(options); // checks the parameters too, before any data is read
        return { name: header.modelName, failIfExists: header.failIfExists };
      },
      async receive(rest, progress) {
        // CSV chunks or structured sequences, not both.
        const sequences: CrfSequence[] = [];
        const csv = await receiveBytes(
          rest,
          "csvChunk",
          config.maxUploadBytes,
          (bytes) => progress({ stage: "receiving", bytesReceived: bytes }),
          (msg, i) => {
            if (msg.payload?.$case === "sequences") {
              const batch = msg.payload.value;
              const field = `message ${i}: sequences`;
              if (!batch.sequences) throw invalid(`${field}.sequences`, "required");
              for (const s of unpackSequences(toPacked(batch.sequences), batch.labels, `${field}.sequences`)) sequences.push(s);
              const q = batch.sequences;
              return (
                q.attributeNames.length +
                8 * q.attributeWeights.length +
                4 * (q.itemAttributeCounts.length + q.sequenceLengths.length) +
                batch.labels.reduce((n, l) => n + l.length + 1, 0)
              );
            }
            return false;
          },
        );
        if (csv && sequences.length) throw invalid("payload", "send either csv_chunk or sequences messages, not both");
        if (!csv && !sequences.length) throw invalid("payload", "no training data was sent after the header");
        // Structured data: the attributes are the caller's, no template unless given.
        template = csv || options.template ? (options.template ?? resolved.template) : undefined;
        return { csv, sequences };
      },
      async fit({ csv, sequences }, signal, progress) {
        const fitOptions = {
          ...options,
          signal,
          onProgress: (p: CrfProgress) => progress({ stage: "training", iteration: p.iteration, loss: p.loss ?? 0, activeFeatures: p.activeFeatures ?? 0 }),
        };
        // A CSV is parsed by the training process itself (fitCrfCsv): never on the event loop.
        if (csv) progress({ stage: "preparing", bytesReceived: csv.length });
        return csv ? fitCrfCsv(csv, fitOptions, resolved) : fitCrf(sequences, fitOptions, resolved);
      },
      stored(fit) {
        const m = fit.metrics;
        const metrics: Record<string, number> = m
          ? { book_accuracy: m.bookAccuracy, token_accuracy: m.tokenAccuracy, sequence_accuracy: m.sequenceAccuracy, macro_f1: m.macroF1 }
          : {};
        return {
          fields: {
            format: "crfsuite",
            parameters: {
              algorithm: fit.algorithm,
              ...(fit.preset ? { feature_preset: fit.preset } : {}),
              ...fit.params,
              test_fraction: String(options.noHoldout ? 0 : (options.testFraction ?? 0.2)),
              seed: String(options.seed ?? 0),
            },
            metrics,
            labels: fit.model.labels,
            featureNames: template ? [...new Set(template.map((f) => f.column))] : [],
            featureTemplate: template,
          },
          bytes: fit.model.bytes,
        };
      },
      report(fit, meta) {
        const m = fit.metrics;
        return {
          model: toModelInfo(meta),
          metrics: m
            ? { bookAccuracy: m.bookAccuracy, tokenAccuracy: m.tokenAccuracy, sequenceAccuracy: m.sequenceAccuracy, macroF1: m.macroF1, labels: m.labels }
            : undefined,
          trainSequences: fit.trainSequences,
          testSequences: fit.testSequences,
          trainTokens: fit.trainTokens,
          testTokens: fit.testTokens,
          trainSeconds: fit.seconds,
          iterations: fit.iterations,
          accuracyLine: fit.accuracyLine ?? "",
        };
      },
      seconds: (fit) => fit.seconds,
      iterations: (fit) => fit.iterations,
    });
  }

  async function predict(req: CrfServicePredictRequest): Promise<CrfServicePredictResponse> {
    const meta = await store.find(req.modelName);
    store.checkKind(meta, crfRuntime);
    if (!req.csv || req.csv.length === 0) throw invalid("csv", "the CSV is empty");
    // The template of the version that answers (a rollout may replace the one found above).
    return withModel(
      store,
      req.modelName,
      crfRuntime,
      async (model, m) => ({ labels: await predictCrfCsv(model, req.csv, m.featureTemplate ?? CRF_PRESETS.book.template), modelVersion: m.version ?? 1 }),
      req.modelVersion,
    );
  }

  async function tag(req: CrfServiceTagRequest | CrfServiceTagStreamRequest): Promise<CrfServiceTagResponse> {
    const input = toPacked(checkTagRequest(req));
    const probability = req.includeProbability;
    const marginals = req.includeMarginals;
    return withModel(
      store,
      req.modelName,
      crfRuntime,
      async (model, meta) => {
        const r = await model.tagPacked(input, { probability, marginals });
        // ts-proto's encoders iterate the arrays: typed arrays serve as they are.
        const asList = (a: ArrayLike<number> | undefined) => (a ?? []) as unknown as number[];
        return {
          labels: model.labels,
          packed: { labelIndices: asList(r.paths), probabilities: asList(r.probabilities), marginals: asList(r.marginals) },
          modelVersion: meta.version ?? 1,
        };
      },
      req.modelVersion,
    );
  }

  async function tagStream(call: ServerDuplexStream<CrfServiceTagStreamRequest, CrfServiceTagStreamResponse>): Promise<void> {
    let i = 0;
    for await (const req of messages<CrfServiceTagStreamRequest>(call)) {
      let res: CrfServiceTagStreamResponse;
      try {
        res = await tag(req);
      } catch (err) {
        const e = err as { details?: string; message?: string };
        if (e && typeof e === "object" && "details" in e) (e as { details: string }).details = `batch ${i}: ${e.details}`;
        else if (e instanceof Error) e.message = `batch ${i}: ${e.message}`;
        throw err;
      }
      if (!call.write(res)) await new Promise((r) => call.once("drain", r));
      i++;
    }
  }

  return {
    train: serverStream(log, stoppable(ctx.stopping, accounted(ctx, crfRuntime.kind, train))),
    predict: unary(log, predict),
    tag: unary(log, (req: CrfServiceTagRequest, _call: ServerUnaryCall<CrfServiceTagRequest, CrfServiceTagResponse>) => tag(req)),
    tagStream: serverStream(log, tagStream),
  };
}
