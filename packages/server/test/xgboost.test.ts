import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictOutput, type XgboostServicePredictResponse } from "../src/generated/mlbridge/v1/xgboost_service";
import { matrixValues } from "../src/services/xgboost";
import { bidi, dataFile, expectStatus, packedOf, startHarness, unary, xgbTrainRequests, type Harness } from "./helpers";

let h: Harness;
const iris = readFileSync(dataFile("iris.csv"));
const predictCsv = readFileSync(dataFile("predict.csv"));

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
    const bad = () =>
      expectStatus(
        predict({ input: { $case: "matrix", value: { rows: 1, cols: 4, values: [1, 2, 3] } } }),
        status.INVALID_ARGUMENT,
        /matrix\.values: expected rows × cols = 4 values, got 3/,
      );
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
      {
        payload: {
          $case: "header",
          value: {
            modelName: "binary",
            preset: "",
            parameters: { objective: "binary:logistic" },
            numRounds: 5,
            seed: 1,
            featureNames: ["a", "b"],
            classNames: ["no", "yes"],
            labelColumn: "",
            failIfExists: false,
          },
        },
      },
      { payload: { $case: "rows", value: { features: { rows: 100, cols: 2, values: values.slice(0, 200) }, labels: labels.slice(0, 100), weights: [] } } },
      { payload: { $case: "rows", value: { features: { rows: 100, cols: 2, values: values.slice(200) }, labels: labels.slice(100), weights: [] } } },
    ]);
    expect(events.at(-1)!.event!.$case).toBe("report");
    const res = await predict({ modelName: "binary", input: { $case: "matrix", value: { rows: 2, cols: 2, values: [9, 0, 1, 0] } } });
    expect(res.classNames).toEqual(["yes", "no"]);
  });
});

/** Little-endian float32 bytes of `values` (what numpy's tobytes() gives), at byte offset `offset` of a larger buffer. */
function f32le(values: ArrayLike<number>, offset = 0): Buffer {
  const b = Buffer.alloc(offset + values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeFloatLE(values[i], offset + i * 4);
  return b.subarray(offset);
}
/** A response's values as float32, from whichever field carries them. */
const valuesOf = (r: XgboostServicePredictResponse): number[] => {
  if (r.rawValues === undefined) return r.values;
  const b = r.rawValues;
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
};
/** Deterministic iris-like rows, row-major. */
function irisRows(n: number): number[] {
  const lo = [4.3, 2.0, 1.0, 0.1];
  const hi = [7.9, 4.4, 6.9, 2.5];
  let a = 7;
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < 4; j++) out.push(Math.fround(lo[j] + (hi[j] - lo[j]) * ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32)));
  return out;
}

describe("DenseMatrix.raw_values and Predict's raw_output", () => {
  const outputs = [PredictOutput.PREDICT_OUTPUT_UNSPECIFIED, PredictOutput.PREDICT_OUTPUT_PROBABILITIES, PredictOutput.PREDICT_OUTPUT_MARGINS];

  it("every combination of input and output encoding gives the same predictions (small: synchronous path; large: worker)", async () => {
    for (const rows of [3, 5000]) {
      const values = irisRows(rows);
      values[1] = Number.NaN; // a missing value travels in both encodings
      const asValues = { rows, cols: 4, values };
      const asRaw = { rows, cols: 4, values: [], rawValues: f32le(values) };
      for (const output of outputs) {
        const base = await predict({ input: { $case: "matrix", value: asValues }, output });
        expect(base.rawValues).toBeUndefined();
        expect(base.values).toHaveLength(rows * base.cols);
        for (const [matrix, rawOutput] of [
          [asRaw, false],
          [asValues, true],
          [asRaw, true],
        ] as const) {
          const res = await predict({ input: { $case: "matrix", value: matrix }, output, rawOutput });
          expect([res.rows, res.cols, res.classNames]).toEqual([base.rows, base.cols, base.classNames]);
          if (rawOutput) {
            expect(res.values).toEqual([]);
            expect(res.rawValues!.length).toBe(rows * base.cols * 4);
          } else expect(res.rawValues).toBeUndefined();
          expect(valuesOf(res)).toEqual(base.values);
        }
      }
    }
  });

  it("raw_output works with CSV input too", async () => {
    const a = await predict({ input: { $case: "csv", value: predictCsv } });
    const b = await predict({ input: { $case: "csv", value: predictCsv }, rawOutput: true });
    expect(valuesOf(b)).toEqual(a.values);
    expect(b.classNames).toEqual(["setosa"]);
  });

  it("omit_class_names leaves class_names empty, the values unchanged", async () => {
    const matrix = { rows: 2, cols: 4, values: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] };
    const a = await predict({ input: { $case: "matrix", value: matrix } });
    const b = await predict({ input: { $case: "matrix", value: matrix }, omitClassNames: true, rawOutput: true });
    expect(a.classNames).toEqual(["setosa", "virginica"]);
    expect(b.classNames).toEqual([]);
    expect(valuesOf(b)).toEqual(a.values);
  });

  it("a client buffer at an unaligned offset is sent and read correctly", async () => {
    const values = irisRows(10);
    const unaligned = f32le(values, 1);
    expect(unaligned.byteOffset % 4).not.toBe(0);
    const a = await predict({ input: { $case: "matrix", value: { rows: 10, cols: 4, values } } });
    const b = await predict({ input: { $case: "matrix", value: { rows: 10, cols: 4, values: [], rawValues: unaligned } } });
    expect(b.values).toEqual(a.values);
  });

  it("the server reads raw_values at any byte offset: a view when aligned, a copy when not", () => {
    const values = irisRows(3);
    for (const offset of [0, 1, 2, 3, 4]) {
      const raw = f32le(values, offset);
      const m = matrixValues({ rows: 3, cols: 4, values: [], rawValues: raw }, "matrix");
      expect(Array.from(m.values)).toEqual(values);
      expect(m.values.buffer === raw.buffer).toBe(raw.byteOffset % 4 === 0);
    }
  });

  it("Train accepts rows in raw_values: the same model as from values", async () => {
    const values = irisRows(300);
    const labels = Array.from({ length: 300 }, (_, i) => (values[i * 4 + 2] > 4 ? 1 : 0));
    const header = (modelName: string) => ({
      payload: {
        $case: "header" as const,
        value: {
          modelName,
          preset: "",
          parameters: { objective: "binary:logistic", max_depth: "3" },
          numRounds: 4,
          seed: 1,
          featureNames: [],
          classNames: ["short", "long"],
          labelColumn: "",
          failIfExists: false,
        },
      },
    });
    const rows = (from: number, to: number, raw: boolean) => ({
      payload: {
        $case: "rows" as const,
        value: {
          features: raw
            ? { rows: to - from, cols: 4, values: [], rawValues: f32le(values.slice(from * 4, to * 4)) }
            : { rows: to - from, cols: 4, values: values.slice(from * 4, to * 4) },
          labels: labels.slice(from, to),
          weights: [],
        },
      },
    });
    await bidi(h.xgb.train(), [header("rows.values"), rows(0, 100, false), rows(100, 300, false)]);
    await bidi(h.xgb.train(), [header("rows.raw"), rows(0, 100, true), rows(100, 300, true)]);
    const input = { $case: "matrix" as const, value: { rows: 300, cols: 4, values } };
    const [a, b] = [
      await predict({ modelName: "rows.values", input, output: PredictOutput.PREDICT_OUTPUT_MARGINS }),
      await predict({ modelName: "rows.raw", input, output: PredictOutput.PREDICT_OUTPUT_MARGINS }),
    ];
    expect(b.values).toEqual(a.values);
  });
});

describe("XgboostService errors", () => {
  it("raw_values: both encodings at once, or a byte length other than rows × cols × 4, name the field", async () => {
    const I = status.INVALID_ARGUMENT;
    const raw = (rawValues: Buffer, values: number[] = []) => predict({ input: { $case: "matrix", value: { rows: 2, cols: 4, values, rawValues } } });
    await expectStatus(
      raw(f32le(irisRows(2)), irisRows(2)),
      I,
      "matrix.values: must be empty when raw_values is set (got 8 values and 32 bytes): give one encoding",
    );
    await expectStatus(raw(f32le(irisRows(2)).subarray(0, 31)), I, "matrix.raw_values: expected rows × cols × 4 = 32 bytes (little-endian float32), got 31");
    await expectStatus(raw(f32le(irisRows(3))), I, "matrix.raw_values: expected rows × cols × 4 = 32 bytes (little-endian float32), got 48");
    await expectStatus(raw(Buffer.alloc(0)), I, "matrix.raw_values: expected rows × cols × 4 = 32 bytes (little-endian float32), got 0");
    await expectStatus(
      predict({ input: { $case: "matrix", value: { rows: 1, cols: 3, values: [], rawValues: f32le([1, 2, 3]) } } }),
      I,
      /expects 4 features per row, got 3/,
    );
    await expectStatus(
      bidi(h.xgb.train(), [
        {
          payload: {
            $case: "header",
            value: { modelName: "bad", preset: "", parameters: {}, seed: 0, featureNames: [], classNames: [], labelColumn: "", failIfExists: false },
          },
        },
        { payload: { $case: "rows", value: { features: { rows: 2, cols: 2, values: [], rawValues: Buffer.alloc(12) }, labels: [0, 1], weights: [] } } },
      ]),
      I,
      "message 1: rows.features.raw_values: expected rows × cols × 4 = 16 bytes (little-endian float32), got 12",
    );
  });

  it("wrong feature count names the field", async () => {
    await expectStatus(
      predict({ input: { $case: "matrix", value: { rows: 1, cols: 3, values: [1, 2, 3] } } }),
      status.INVALID_ARGUMENT,
      /expects 4 features per row, got 3/,
    );
    await expectStatus(
      predict({ input: { $case: "matrix", value: { rows: 2, cols: 4, values: [1, 2, 3] } } }),
      status.INVALID_ARGUMENT,
      /matrix\.values: expected rows × cols = 8 values, got 3/,
    );
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
    await expectStatus(
      bidi(h.xgb.train(), xgbTrainRequests({ modelName: "x", parameters: { max_dept: "2" } }, iris)),
      status.INVALID_ARGUMENT,
      /max_dept: unknown XGBoost parameter/,
    );
    await expectStatus(
      unary(h.crf.tag.bind(h.crf), { modelName: "xgb.model", packed: packedOf([[[["a", 1]]]]), includeProbability: false, includeMarginals: false }),
      status.FAILED_PRECONDITION,
      /is a xgboost model, not crf/,
    );
    await expectStatus(predict({ modelName: "nope", input: { $case: "csv", value: predictCsv } }), status.NOT_FOUND, "model 'nope' not found");
  });
});
