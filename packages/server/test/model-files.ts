/**
 * Real model files for the tests of `--load` and the ModelMesh SPI: an iris
 * XGBoost model (JSON, as XGBoost's save_model writes it) and a CRFsuite
 * model, trained by a real server and exported through ModelService.
 */
import { readFileSync } from "node:fs";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { type ExportModelResponse, ModelFormat } from "../src/generated/mlbridge/v1/model_service";
import { bidi, crfTrainRequests, dataFile, startHarness, xgbTrainRequests } from "./helpers";

export interface ModelFiles {
  /** XGBoost JSON of an iris classifier (setosa, versicolor, virginica). */
  xgboostJson: Buffer;
  /** XGBoost UBJ of the same model. */
  xgboostUbj: Buffer;
  /** A CRFsuite model (the book's features, 5 iterations on the synthetic NER data). */
  crfsuite: Buffer;
}

/** Trains the models on a throwaway server and returns their files' bytes. */
export async function makeModelFiles(): Promise<ModelFiles> {
  const h = await startHarness();
  try {
    await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris", preset: "iris", seed: 1 }, readFileSync(dataFile("iris.csv"))));
    await bidi(
      h.crf.train(),
      crfTrainRequests({ modelName: "ner", featurePreset: "book", parameters: { max_iterations: "5" } }, readFileSync(dataFile("ner.csv"))),
    );
    const exportModel = (name: string, format: ModelFormat) =>
      new Promise<Buffer>((resolve, reject) => {
        const parts: Buffer[] = [];
        const call: ClientReadableStream<ExportModelResponse> = h.models.exportModel({ name, format });
        call.on("data", (m: ExportModelResponse) => parts.push(m.chunk));
        call.on("error", reject);
        call.on("end", () => resolve(Buffer.concat(parts)));
      });
    return {
      xgboostJson: await exportModel("iris", ModelFormat.MODEL_FORMAT_XGBOOST_JSON),
      xgboostUbj: await exportModel("iris", ModelFormat.MODEL_FORMAT_XGBOOST_UBJ),
      crfsuite: await exportModel("ner", ModelFormat.MODEL_FORMAT_CRFSUITE),
    };
  } finally {
    await h.close();
  }
}

/** A V2 ModelInfer request of FP32 rows for an XGBoost model. */
export function irisInferRequest(modelName: string, rows: number[][]) {
  return {
    modelName,
    modelVersion: "",
    id: "t1",
    parameters: {},
    inputs: [
      {
        name: "input",
        datatype: "FP32",
        shape: [rows.length, 4],
        parameters: {},
        contents: {
          boolContents: [],
          intContents: [],
          int64Contents: [],
          uintContents: [],
          uint64Contents: [],
          fp32Contents: rows.flat(),
          fp64Contents: [],
          bytesContents: [],
        },
      },
    ],
    outputs: [],
    rawInputContents: [],
  };
}

/** Rows of iris: a setosa, a versicolor, a virginica. */
export const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [5.9, 3.0, 4.2, 1.5],
  [6.7, 3.0, 5.2, 2.3],
];
