import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictOutput } from "../src/generated/mlbridge/v1/xgboost_service";
import { bidi, book, expectStatus, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";

let h: Harness;
const iris = readFileSync(book("iris.csv"));
const predictCsv = readFileSync(book("predict.csv"));

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

const predict = (req: Partial<Parameters<typeof h.xgb.predict>[0]>) =>
  unary(h.xgb.predict.bind(h.xgb), { modelName: "xgb.model", output: PredictOutput.PREDICT_OUTPUT_UNSPECIFIED, input: undefined, ...req });

describe("XgboostService on the book's iris data", () => {
  it("Train with the iris preset streams one eval line per round, then a report", async () => {
    const events = await bidi(h.xgb.train(), xgbTrainRequests({ modelName: "xgb.model", preset: "iris" }, iris));
    const logs = events.flatMap((e) => (e.event?.$case === "progress" && e.event.value.stage === "training" ? [e.event.value.evalLog] : []));
    expect(logs).toHaveLength(2);
    expect(logs[0]).toMatch(/^\[0\]\ttrain-merror:[\d.]+\ttest-merror:[\d.]+$/);
    const last = events.at(-1)!.event!;
    expect(last.$case).toBe("report");
    if (last.$case !== "report") return;
    expect(last.value.rounds).toBe(2);
    expect(last.value.model!.labels).toEqual(["setosa", "versicolor", "virginica"]);
    expect(last.value.model!.featureNames).toEqual(["sepal_length", "sepal_width", "petal_length", "petal_width"]);
    expect(last.value.validationAccuracy).toBeGreaterThan(0.85);
  });

  it("Predict from the book's predict.csv gives setosa", async () => {
    const res = await predict({ input: { $case: "csv", value: predictCsv } });
    expect(res.classNames).toEqual(["setosa"]);
    expect(res.rows).toBe(1);
  });

  it("Predict from a dense matrix gives classes, probabilities and margins", async () => {
    const matrix = { rows: 2, cols: 4, values: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] };
    const cls = await predict({ input: { $case: "matrix", value: matrix } });
    expect(cls.classNames).toEqual(["setosa", "virginica"]);
    expect(cls.values).toEqual([0, 2]);
    const prob = await predict({ input: { $case: "matrix", value: matrix }, output: PredictOutput.PREDICT_OUTPUT_PROBABILITIES });
    expect(prob.cols).toBe(3);
    expect(prob.values.slice(0, 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const margins = await predict({ input: { $case: "matrix", value: matrix }, output: PredictOutput.PREDICT_OUTPUT_MARGINS });
    expect(margins.cols).toBe(3);
    expect(margins.classNames).toEqual([]);
  });

  it("a cached model (answered synchronously) and an evicted one (loaded from disk) give the same answers and errors", async () => {
    const matrix = { rows: 2, cols: 4, values: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] };
    const ask = () =>
      Promise.all(
        [PredictOutput.PREDICT_OUTPUT_UNSPECIFIED, PredictOutput.PREDICT_OUTPUT_PROBABILITIES, PredictOutput.PREDICT_OUTPUT_MARGINS].map((output) =>
          predict({ input: { $case: "matrix", value: matrix }, output }),
        ),
      );
    const bad = () => expectStatus(predict({ input: { $case: "matrix", value: { rows: 1, cols: 4, values: [1, 2, 3] } } }), status.INVALID_ARGUMENT, /matrix\.values: expected rows × cols = 4 values, got 3/);
    expect(h.server.context.store.cached("xgb.model")).toBeDefined();
    const cached = await ask();
    await bad();
    expect(h.server.context.store.evict("xgb.model")).toBe(true);
    expect(await ask()).toEqual(cached); // the first of these loads it again
    expect(h.server.context.store.cached("xgb.model")).toBeDefined();
    expect(h.server.context.store.evict("xgb.model")).toBe(true);
    await bad(); // through the loading path
  });

  it("trains from dense rows with labels", async () => {
    const values: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 200; i++) {
      values.push(i % 10, (i * 7) % 5);
      labels.push(i % 10 > 4 ? 1 : 0);
    }
    const events = await bidi(h.xgb.train(), [
      { payload: { $case: "header", value: { modelName: "binary", preset: "", parameters: { objective: "binary:logistic" }, numRounds: 5, seed: 1, featureNames: ["a", "b"], classNames: ["no", "yes"], labelColumn: "", failIfExists: false } } },
      { payload: { $case: "rows", value: { features: { rows: 100, cols: 2, values: values.slice(0, 200) }, labels: labels.slice(0, 100), weights: [] } } },
      { payload: { $case: "rows", value: { features: { rows: 100, cols: 2, values: values.slice(200) }, labels: labels.slice(100), weights: [] } } },
    ]);
    expect(events.at(-1)!.event!.$case).toBe("report");
    const res = await predict({ modelName: "binary", input: { $case: "matrix", value: { rows: 2, cols: 2, values: [9, 0, 1, 0] } } });
    expect(res.classNames).toEqual(["yes", "no"]);
  });
});

describe("XgboostService errors", () => {
  it("wrong feature count names the field", async () => {
    await expectStatus(predict({ input: { $case: "matrix", value: { rows: 1, cols: 3, values: [1, 2, 3] } } }), status.INVALID_ARGUMENT, /expects 4 features per row, got 3/);
    await expectStatus(predict({ input: { $case: "matrix", value: { rows: 2, cols: 4, values: [1, 2, 3] } } }), status.INVALID_ARGUMENT, /matrix\.values: expected rows × cols = 8 values, got 3/);
  });

  it("a CSV with a bad value names line and column", async () => {
    await expectStatus(
      predict({ input: { $case: "csv", value: Buffer.from("sepal_length,sepal_width,petal_length,petal_width\n1,2,x,4\n") } }),
      status.INVALID_ARGUMENT,
      /line 2, column "petal_length": expected a finite number/,
    );
    await expectStatus(predict({ input: { $case: "csv", value: Buffer.from("a,b\n1,2\n") } }), status.INVALID_ARGUMENT, /missing column "sepal_length"/);
  });

  it("unknown parameters are rejected, using a model of the other kind is FAILED_PRECONDITION", async () => {
    await expectStatus(bidi(h.xgb.train(), xgbTrainRequests({ modelName: "x", parameters: { max_dept: "2" } }, iris)), status.INVALID_ARGUMENT, /max_dept: unknown XGBoost parameter/);
    await expectStatus(
      unary(h.crf.tag.bind(h.crf), { modelName: "xgb.model", sequences: [{ items: [], labels: [] }], includeProbability: false, includeMarginals: false }),
      status.FAILED_PRECONDITION,
      /is a xgboost model, not crf/,
    );
    await expectStatus(predict({ modelName: "nope", input: { $case: "csv", value: predictCsv } }), status.NOT_FOUND, "model 'nope' not found");
  });
});
