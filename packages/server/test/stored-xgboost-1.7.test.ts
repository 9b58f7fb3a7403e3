import { readFileSync } from "node:fs";
import { cp, mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictOutput } from "../src/generated/mlbridge/v1/xgboost_service";
import { bidi, dataFile, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";

/**
 * A model store written by mlbridge when it linked Debian's libxgboost 1.7.4
 * (fixtures/store-xgboost-1.7.4: an iris classifier trained with the iris preset
 * and a regressor, their UBJ blobs and metadata files exactly as the store wrote
 * them, and what that server predicted on every third iris row). The server of
 * today opens that store as it is and serves the same predictions.
 */
const FIXTURE = path.join(__dirname, "fixtures", "store-xgboost-1.7.4");

interface Expected {
  rows: number[][];
  iris: { classes: number[]; class_names: string[]; probabilities: number[][]; margins: number[][] };
  "petal-width": { values: number[]; margins: number[] };
}

let h: Harness;
let want: Expected;

beforeAll(async () => {
  const modelDir = await mkdtemp(path.join(os.tmpdir(), "mlbridge-store-1.7-"));
  await cp(path.join(FIXTURE, "models"), path.join(modelDir, "models"), { recursive: true });
  await cp(path.join(FIXTURE, "blobs"), path.join(modelDir, "blobs"), { recursive: true });
  want = JSON.parse(await readFile(path.join(FIXTURE, "expected.json"), "utf8")) as Expected;
  h = await startHarness([], { modelDir });
});
afterAll(() => h.close());

const predict = (modelName: string, rows: number[][], output: PredictOutput) =>
  unary(h.xgb.predict.bind(h.xgb), {
    modelName,
    output,
    input: { $case: "matrix", value: { rows: rows.length, cols: rows[0].length, values: rows.flat() } },
  });

describe("a store written with XGBoost 1.7.4", () => {
  it("lists both models with their metadata as stored", async () => {
    const res = await unary(h.models.listModels.bind(h.models), { kind: 0 });
    expect(res.models.map((m) => [m.name, m.format])).toEqual([
      ["iris", "xgboost-ubj"],
      ["petal-width", "xgboost-ubj"],
    ]);
    const iris = res.models[0];
    expect(iris.labels).toEqual(["setosa", "versicolor", "virginica"]);
    expect(iris.metrics["test-merror"]).toBe(0.1);
  });

  it("serves the iris classifier's classes exactly and its probabilities and margins within 1e-6", async () => {
    const rows = want.rows;
    const classes = await predict("iris", rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
    expect(classes.values).toEqual(want.iris.classes);
    expect(classes.classNames).toEqual(want.iris.class_names);
    const probabilities = await predict("iris", rows, PredictOutput.PREDICT_OUTPUT_PROBABILITIES);
    const margins = await predict("iris", rows, PredictOutput.PREDICT_OUTPUT_MARGINS);
    const flatP = want.iris.probabilities.flat();
    const flatM = want.iris.margins.flat();
    expect(probabilities.values).toHaveLength(flatP.length);
    probabilities.values.forEach((v, i) => expect(Math.abs(v - flatP[i])).toBeLessThanOrEqual(1e-6));
    margins.values.forEach((v, i) => expect(Math.abs(v - flatM[i])).toBeLessThanOrEqual(1e-6));
  });

  it("serves the regressor's values within 1e-6", async () => {
    const rows = want.rows.map((r) => r.slice(0, 3));
    const values = await predict("petal-width", rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
    const margins = await predict("petal-width", rows, PredictOutput.PREDICT_OUTPUT_MARGINS);
    values.values.forEach((v, i) => expect(Math.abs(v - want["petal-width"].values[i])).toBeLessThanOrEqual(1e-6));
    margins.values.forEach((v, i) => expect(Math.abs(v - want["petal-width"].margins[i])).toBeLessThanOrEqual(1e-6));
  });

  it("the iris preset trained today on the same data predicts what the 1.7.4 model did", async () => {
    // The preset pins base_score 0.5 (XGBoost 1.x's): the book's model is the one it was.
    await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "iris-today", preset: "iris" }, readFileSync(dataFile("iris.csv"))));
    const classes = await predict("iris-today", want.rows, PredictOutput.PREDICT_OUTPUT_UNSPECIFIED);
    expect(classes.values).toEqual(want.iris.classes);
    const probabilities = await predict("iris-today", want.rows, PredictOutput.PREDICT_OUTPUT_PROBABILITIES);
    const flatP = want.iris.probabilities.flat();
    probabilities.values.forEach((v, i) => expect(Math.abs(v - flatP[i])).toBeLessThanOrEqual(1e-6));
  });
});
