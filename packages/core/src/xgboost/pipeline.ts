import type { CsvSource } from "../data/csv";
import { readFeatureCsv, readLabelledCsv } from "./data";
import type { PredictOutput, XgbModel, XgbPrediction } from "./model";
import { trainXgboost, type XgbTrainOptions, type XgbTrainResult } from "./train";

/** Trains on a labelled CSV (the book's `fit()` on iris.csv with preset `iris`). */
export async function fitXgboostCsv(source: CsvSource, options: XgbTrainOptions & { labelColumn?: string } = {}): Promise<XgbTrainResult> {
  const data = await readLabelledCsv(source, options.labelColumn);
  return trainXgboost(data, options);
}

/** Predicts the rows of a CSV holding the model's feature columns (the book's `predict()`). */
export async function predictXgboostCsv(model: XgbModel, source: CsvSource, output: PredictOutput = "default"): Promise<XgbPrediction> {
  const m = await readFeatureCsv(source, model.featureNames, model.numFeatures);
  return model.predictAsync(m.values, m.rows, m.cols, output);
}
