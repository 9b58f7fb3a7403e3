import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { crfTrainingProcesses, fitXgboostCsv, predictXgboostCsv, readFeatureCsv, trainXgboost, XgbModel, type XgbProgress } from "../src";
import { decodeModel } from "../src/xgboost/format";
import { dataFile } from "./data";

describe("XGBoost: the book's iris pipeline", () => {
  it("trains the iris preset with per-round eval logs and predicts setosa for predict.csv", async () => {
    const progress: XgbProgress[] = [];
    const r = await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris", onProgress: (p) => progress.push(p) });
    expect(r.rounds).toBe(2);
    expect([r.trainRows, r.testRows, r.validationRows]).toEqual([90, 30, 30]);
    expect(progress.map((p) => p.iteration)).toEqual([1, 2]);
    expect(progress[0].evalLog).toMatch(/^\[0\]\ttrain-merror:[\d.]+\ttest-merror:[\d.]+$/);
    expect(r.metrics["test-merror"]).toBeLessThan(0.2);
    expect(r.validationAccuracy).toBeGreaterThan(0.85);
    expect(r.model.classNames).toEqual(["setosa", "versicolor", "virginica"]);
    const pred = await predictXgboostCsv(r.model, dataFile("predict.csv"));
    expect(pred.classNames).toEqual(["setosa"]);
    r.model.dispose();
  });

  it("saved and loaded models (JSON and UBJ buffers) predict identically, class names included", async () => {
    const r = await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris" });
    const m = await readFeatureCsv(dataFile("iris.csv"), r.model.featureNames, 4);
    const want = r.model.predict(m.values, m.rows, m.cols, "probabilities");
    for (const format of ["json", "ubj"] as const) {
      const copy = XgbModel.fromBuffer(r.model.toBuffer(format));
      const got = copy.predict(m.values, m.rows, m.cols, "probabilities");
      expect(Array.from(got.values)).toEqual(Array.from(want.values));
      expect(copy.classNames).toEqual(["setosa", "versicolor", "virginica"]);
      expect(copy.featureNames).toEqual(["sepal_length", "sepal_width", "petal_length", "petal_width"]);
      copy.dispose();
    }
    const big = await r.model.predictAsync(new Float32Array(100_000 * 4).fill(5), 100_000, 4);
    expect(big.rows).toBe(100_000);
    expect(new Set(big.classNames).size).toBe(1);
    r.model.dispose();
  });

  it("probabilities of a softmax model are a distribution per row", async () => {
    const r = await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris" });
    const p = r.model.predict(Float32Array.of(5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3), 2, 4, "probabilities");
    expect(p.cols).toBe(3);
    expect(p.values[0] + p.values[1] + p.values[2]).toBeCloseTo(1, 5);
    expect(p.classNames).toEqual(["setosa", "virginica"]);
    r.model.dispose();
  });
});

describe("XGBoost: bad calls", () => {
  const data = { values: new Float32Array(8), rows: 4, cols: 2, labels: Float32Array.of(0, 1, 0, 1) };
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["unknown parameter", () => trainXgboost(data, { params: { max_dept: 3 } }), /parameters\.max_dept: unknown XGBoost parameter/],
    ["unknown preset", () => trainXgboost(data, { preset: "wine" }), /preset: unknown preset "wine"/],
    ["shape mismatch", () => trainXgboost({ ...data, rows: 5 }), /values: expected 5×2 values/],
    ["non-finite label", () => trainXgboost({ ...data, labels: Float32Array.of(0, Number.NaN, 0, 1) }), /labels\[1\]: expected a finite number/],
    ["empty data", () => trainXgboost({ ...data, values: new Float32Array(0), rows: 0, labels: new Float32Array(0) }), /rows: expected a positive integer/],
    [
      "class out of range",
      () => trainXgboost(data, { params: { objective: "multi:softmax", num_class: 1 } }),
      /labels\[1\]: expected a class index in \[0, 0\]/,
    ],
    ["bad rounds", () => trainXgboost(data, { numRounds: 0 }), /num_rounds/],
    ["parameter XGBoost rejects", () => trainXgboost(data, { params: { max_depth: "deep" } }), /parameters\.max_depth: expected a finite number/],
    ["a parameter XGBoost itself rejects", () => trainXgboost(data, { params: { tree_method: "fancy" } }), /XGBoost rejected the training/],
    // Parameters of XGBoost 1.x that 3.2 removed: refused, saying what replaced them.
    ["gpu_id (removed)", () => trainXgboost(data, { params: { gpu_id: 0 } }), /parameters\.gpu_id: removed in XGBoost 3\.1 \(use device/],
    ["predictor (removed)", () => trainXgboost(data, { params: { predictor: "cpu_predictor" } }), /parameters\.predictor: removed in XGBoost 2\.0/],
    ["sketch_eps (removed)", () => trainXgboost(data, { params: { sketch_eps: 0.03 } }), /parameters\.sketch_eps: removed in XGBoost 2\.0 \(use max_bin\)/],
    [
      "tree_method gpu_hist (removed)",
      () => trainXgboost(data, { params: { tree_method: "gpu_hist" } }),
      /parameters\.tree_method: gpu_hist was removed in XGBoost 3\.0/,
    ],
    ["device cuda", () => trainXgboost(data, { params: { device: "cuda" } }), /parameters\.device: this server trains on the CPU only/],
    // One round's work is bounded (a round cannot be interrupted), and NaN/inf learning parameters refused.
    ["max_depth 1e6", () => trainXgboost(data, { params: { max_depth: "1e6" } }), /parameters\.max_depth: expected an integer in \[0, 32\]/],
    [
      "num_parallel_tree 1e6",
      () => trainXgboost(data, { params: { num_parallel_tree: 1_000_000 } }),
      /parameters\.num_parallel_tree: expected an integer in \[1, 1000\]/,
    ],
    ["max_bin 2^31-1", () => trainXgboost(data, { params: { max_bin: 2 ** 31 - 1 } }), /parameters\.max_bin: expected an integer in \[2, 65536\]/],
    [
      "trees per round",
      () => trainXgboost(data, { params: { num_parallel_tree: 1000, num_class: 100, objective: "multi:softmax" } }),
      /num_parallel_tree × num_class: 100000 trees per round/,
    ],
    ["eta NaN", () => trainXgboost(data, { params: { eta: "nan" } }), /parameters\.eta: expected a finite number, got "nan"/],
    ["eta inf", () => trainXgboost(data, { params: { eta: "inf" } }), /parameters\.eta: expected a finite number/],
    [
      "a model that diverged to non-finite predictions is refused",
      () =>
        trainXgboost(
          { ...data, labels: Float32Array.of(0, 1e30, 2e30, 3e30) },
          { params: { objective: "reg:squarederror", eta: "1e30" }, numRounds: 2, testFraction: 0 },
        ),
      /predicts non-finite values .* nothing was stored/,
    ],
  ];
  for (const [name, call, message] of cases) {
    it(name, async () => {
      await expect(call()).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(message) });
    });
  }

  it("rejects random bytes as a model, and wrong feature counts", async () => {
    expect(() => XgbModel.fromBuffer(randomBytes(200))).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const r = await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris" });
    expect(() => r.model.predict(new Float32Array(3), 1, 3)).toThrowError(/cols: the model expects 4 features per row, got 3/);
    r.model.dispose();
  });

  it("a model from a newer XGBoost than the linked one is refused naming both versions, before XGBoost reads it", async () => {
    const json = Buffer.from(JSON.stringify({ learner: {}, version: [9, 0, 0] }));
    expect(() => XgbModel.fromBuffer(json)).toThrowError(
      expect.objectContaining({ code: "FAILED_PRECONDITION", message: expect.stringMatching(/saved by XGBoost 9\.0\.0.*XGBoost 3\.2\.0/) }),
    );
    const r = await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris" });
    const mine = r.model.toBuffer("json").toString();
    expect(mine).toMatch(/"version":\[3,2,0\]/);
    // Every earlier version and a newer patch of 3.2 are read; a newer minor or major is not.
    for (const [version, ok] of [
      ["1,7,6", true],
      ["3,0,5", true],
      ["3,2,9", true],
      ["3,3,0", false],
      ["4,0,0", false],
    ] as const) {
      const bytes = Buffer.from(mine.replace(/"version":\[3,2,0\]/, `"version":[${version}]`));
      if (ok) XgbModel.fromBuffer(bytes).dispose();
      else
        expect(() => XgbModel.fromBuffer(bytes)).toThrowError(
          expect.objectContaining({
            code: "FAILED_PRECONDITION",
            message: expect.stringContaining(`saved by XGBoost ${version.replaceAll(",", ".")}, which is newer than the server's XGBoost 3.2.0`),
          }),
        );
    }
    r.model.dispose();
  });

  it("writes base_score as the scalar every XGBoost reads when the intercepts are equal, else as 3.2's vector", async () => {
    const x = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i * 7.1) * 3);
    const data = { values: x, rows: 200, cols: 2, labels: Float32Array.from({ length: 200 }, (_, i) => (x[2 * i] > 0.5 ? 2 : x[2 * i + 1] > 0 ? 1 : 0)) };
    const reg = await trainXgboost(
      { ...data, labels: data.labels.map((v) => v * 3 + 1) },
      { params: { objective: "reg:squarederror" }, numRounds: 3, testFraction: 0 },
    );
    const multi = await trainXgboost(data, { params: { objective: "multi:softprob", num_class: 3 }, numRounds: 3, testFraction: 0 });
    for (const [model, scalar] of [
      [reg.model, true],
      [multi.model, false],
    ] as const) {
      for (const format of ["json", "ubj"] as const) {
        const bytes = model.toBuffer(format);
        const score = String((decodeModel(bytes).doc.learner as { learner_model_param: { base_score: string } }).learner_model_param.base_score);
        expect(score.startsWith("[")).toBe(!scalar);
        const copy = XgbModel.fromBuffer(bytes);
        const a = model.predict(x, 200, 2, "margins").values;
        expect(Array.from(copy.predict(x, 200, 2, "margins").values)).toEqual(Array.from(a));
        copy.dispose();
      }
      model.dispose();
    }
  });

  it("rejects every truncation of a UBJ or JSON model before XGBoost reads it (its UBJ reader trusts lengths)", async () => {
    const r = await fitXgboostCsv(dataFile("iris.csv"), { preset: "iris" });
    for (const format of ["ubj", "json"] as const) {
      const bytes = r.model.toBuffer(format);
      for (let n = 1; n < bytes.length; n += 7) {
        expect(() => XgbModel.fromBuffer(bytes.subarray(0, n))).toThrowError(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
      }
    }
    r.model.dispose();
  });

  it("reads the version a model declares (XGBoost 3's UBJ layout, the optimized one, JSON) from the one decoder: newer than 3.2 is FAILED_PRECONDITION", () => {
    const code = (bytes: Buffer) => {
      try {
        XgbModel.fromBuffer(bytes);
      } catch (err) {
        return [(err as { code: string }).code, (err as Error).message];
      }
      return ["OK", ""];
    };
    const counted = Buffer.concat([
      Buffer.from("{L\x00\x00\x00\x00\x00\x00\x00\x07version[#L", "latin1"),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]),
      Buffer.from("i\x03i\x03i\x00}", "latin1"),
    ]);
    expect(code(counted)).toEqual(["FAILED_PRECONDITION", expect.stringContaining("saved by XGBoost 3.3.0")]);
    const typed = Buffer.from("{i\x07version[$i#i\x03\x01\x07\x04}", "latin1");
    expect(code(typed)).toEqual(["INVALID_ARGUMENT", expect.stringContaining("not an XGBoost model")]); // 1.7.4: readable, but no learner
    expect(code(Buffer.from('{"version": [4, 0, 0]}'))).toEqual(["FAILED_PRECONDITION", expect.stringContaining("saved by XGBoost 4.0.0")]);
    expect(code(Buffer.from("{}"))).toEqual(["INVALID_ARGUMENT", expect.stringContaining("not an XGBoost model")]);
  });

  it("cancels between rounds", async () => {
    const ac = new AbortController();
    const p = trainXgboost(data, { numRounds: 1000, signal: ac.signal, onProgress: (pr) => pr.iteration === 2 && ac.abort() });
    await expect(p).rejects.toMatchObject({ code: "CANCELLED" });
  });
});

describe("XGBoost: cancellation stops the work, however large a round is", () => {
  it("a training inside one huge round is cancelled at once: the promise rejects and its process is gone", async () => {
    // 200,000 rows and 1,000 trees per round: one round takes minutes.
    const rows = 200_000;
    const values = new Float32Array(rows * 8).map((_, i) => (i * 7919) % 101);
    const labels = Float32Array.from({ length: rows }, (_, i) => i % 2);
    const ac = new AbortController();
    const p = trainXgboost({ values, rows, cols: 8, labels }, { params: { num_parallel_tree: 1000, max_depth: 12 }, numRounds: 5, signal: ac.signal });
    p.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500)); // well inside the first round
    const training = crfTrainingProcesses().training;
    expect(training).toHaveLength(1);
    const t0 = performance.now();
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: "CANCELLED" });
    expect(performance.now() - t0).toBeLessThan(1000);
    // SIGKILL: the process (and its CPU and memory) is gone.
    for (let i = 0; i < 50 && crfTrainingProcesses().training.includes(training[0]); i++) await new Promise((r) => setTimeout(r, 20));
    expect(crfTrainingProcesses().training).not.toContain(training[0]);
    expect(() => process.kill(training[0], 0)).toThrow();
  });
});
