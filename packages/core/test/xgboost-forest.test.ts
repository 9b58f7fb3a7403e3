// The compiled-trees fast path (src/xgboost/forest.ts, native/src/forest.cc):
// for every objective it accepts, its predictions must be bit-identical to
// XGBoost's own, on inputs built to sit on, just below and just above the
// split thresholds, with missing values; everything else stays on XGBoost.
import { afterEach, describe, expect, it } from "vitest";
import { binding, trainXgboost, XgbModel, type PredictOutput } from "../src";
import { seededRandom } from "../src/random";
import { forestSpec, probeRows } from "../src/xgboost/forest";
import { decodeModel } from "../src/xgboost/format";

const COLS = 5;
function dataset(rows: number, seed: number, label: (x: number[]) => number) {
  const rnd = seededRandom(seed);
  const values = new Float32Array(rows * COLS);
  const labels = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: COLS }, () => (rnd() < 0.08 ? Number.NaN : rnd() * 10 - 5));
    values.set(x, r * COLS);
    labels[r] = label(x.map((v) => (Number.isNaN(v) ? 0 : v)));
  }
  return { values, rows, cols: COLS, labels };
}

/** The same model with the fast path off (MLBRIDGE_XGBOOST_COMPILED=0). */
function onXgboost(model: XgbModel): XgbModel {
  process.env.MLBRIDGE_XGBOOST_COMPILED = "0";
  try {
    return XgbModel.fromBuffer(model.toBuffer("ubj"));
  } finally {
    delete process.env.MLBRIDGE_XGBOOST_COMPILED;
  }
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

const OBJECTIVES: [string, Record<string, string | number>, (x: number[]) => number][] = [
  ["binary:logistic", {}, (x) => (x[0] + x[1] > 0 ? 1 : 0)],
  ["reg:logistic", {}, (x) => (x[0] > 0.5 ? 0.9 : 0.2)],
  ["binary:logitraw", {}, (x) => (x[2] > 1 ? 1 : 0)],
  ["reg:squarederror", {}, (x) => x[0] * 2 + x[3]],
  ["reg:absoluteerror", {}, (x) => x[1] - x[4]],
  ["multi:softprob", { num_class: 3 }, (x) => (x[0] > 1 ? 2 : x[1] > 0 ? 1 : 0)],
  ["multi:softmax", { num_class: 4 }, (x) => (x[0] > 2 ? 3 : x[0] > 0 ? 2 : x[2] > 0 ? 1 : 0)],
  ["count:poisson", {}, (x) => Math.round(Math.abs(x[0]) + Math.abs(x[1]))],
  ["reg:gamma", {}, (x) => 1 + Math.abs(x[2])],
];

describe("compiled trees", () => {
  const open: XgbModel[] = [];
  const keep = (m: XgbModel) => {
    open.push(m);
    return m;
  };
  afterEach(() => open.splice(0).forEach((m) => m.dispose()));

  it.each(OBJECTIVES)("%s: used, and bit-identical to XGBoost (sync, async, every output)", async (objective, extra, label) => {
    const { model } = await trainXgboost(dataset(400, 1, label), { params: { objective, max_depth: 4, eta: 0.3, ...extra }, numRounds: 8, testFraction: 0 });
    keep(model);
    expect(model.fastPathUnavailable).toBeUndefined();
    const ref = keep(onXgboost(model));
    expect(ref.fastPathUnavailable).toMatch(/MLBRIDGE_XGBOOST_COMPILED/);
    const spec = forestSpec(decodeModel(model.toBuffer("json")).doc, objective);
    if (typeof spec === "string") throw new Error(spec);
    // XGBoost >= 3.1 fits one intercept per class: the walk starts each class from its own.
    if (objective.startsWith("multi:")) expect(new Set(spec.baseMargin).size).toBe(spec.numGroup);
    const probes = probeRows(spec, 3000, 99); // other rows than the load-time check's
    for (const output of ["default", "probabilities", "margins"] as PredictOutput[]) {
      const a = model.predict(probes, 3000, COLS, output);
      const b = ref.predict(probes, 3000, COLS, output);
      expect(a.cols).toBe(b.cols);
      expect(bits(a.values)).toEqual(bits(b.values));
    }
    const big = probeRows(spec, 20_000, 5); // > 64 Ki values: the async path, rows over 2 threads
    const a = await model.predictAsync(big, 20_000, COLS, "default", { threads: 2 });
    const b = await ref.predictAsync(big, 20_000, COLS, "default");
    expect(bits(a.values)).toEqual(bits(b.values));
  });

  it("reads float32 bytes at any byte offset, sync and async, on both paths, like the Float32Array", async () => {
    const { model } = await trainXgboost(dataset(400, 2, OBJECTIVES[5][2]), {
      params: { objective: "multi:softprob", num_class: 3, max_depth: 4 },
      numRounds: 6,
      testFraction: 0,
    });
    keep(model);
    const ref = keep(onXgboost(model));
    const spec = forestSpec(decodeModel(model.toBuffer("json")).doc, "multi:softprob");
    if (typeof spec === "string") throw new Error(spec);
    const asBytes = (v: Float32Array, offset: number) => {
      const b = new Uint8Array(offset + v.byteLength).subarray(offset);
      b.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      return b;
    };
    for (const rows of [50, 20_000]) {
      // 20,000 × 5 values: the async path
      const x = probeRows(spec, rows, 7);
      const want = await model.predictAsync(x, rows, COLS, "margins");
      for (const m of [model, ref]) {
        for (const offset of [0, 1, 3, 4]) {
          const bytes = asBytes(x, offset);
          expect(bits((await m.predictAsync(bytes, rows, COLS, "margins")).values)).toEqual(bits(want.values));
          if (rows === 50) expect(bits(m.predict(bytes, rows, COLS, "margins").values)).toEqual(bits(want.values));
        }
      }
    }
    const bad = new Uint8Array(4 * COLS + 2);
    expect(() => model.predict(bad, 1, COLS)).toThrow(/values: expected a Float32Array or little-endian float32 bytes/);
    expect(() => model.predict(new Uint8Array(4 * COLS), 2, COLS)).toThrow(/values: expected 2×5 = 10 values/);
  });

  it("inputs with infinities go to XGBoost, which decides", async () => {
    const { model } = await trainXgboost(
      dataset(200, 2, (x) => x[0]),
      { params: { max_depth: 3 }, numRounds: 3, testFraction: 0 },
    );
    keep(model);
    const ref = keep(onXgboost(model));
    const x = Float32Array.of(Number.POSITIVE_INFINITY, 1, 2, Number.NEGATIVE_INFINITY, 0);
    let ours: unknown, theirs: unknown;
    try {
      ours = bits(model.predict(x, 1, COLS).values);
    } catch (e) {
      ours = (e as Error).message;
    }
    try {
      theirs = bits(ref.predict(x, 1, COLS).values);
    } catch (e) {
      theirs = (e as Error).message;
    }
    expect(ours).toEqual(theirs);
  });

  it("dart models stay on XGBoost, and say why", async () => {
    const d = dataset(200, 3, (x) => x[0] + x[1]);
    const { model } = await trainXgboost(d, { params: { booster: "dart" }, numRounds: 3, testFraction: 0 });
    keep(model);
    expect(model.fastPathUnavailable).toMatch(/booster dart/);
    expect(model.predict(d.values.subarray(0, COLS), 1, COLS).values.length).toBe(1);
  });

  it("gblinear is refused at training and at load, since XGBoost (3.2 too) cannot predict it in place", async () => {
    const d = dataset(100, 4, (x) => x[0]);
    await expect(trainXgboost(d, { params: { booster: "gblinear" }, numRounds: 2 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/gblinear models cannot be served/),
    });
    const { DMatrix, Booster } = binding();
    const m = new DMatrix(
      d.values.map((v) => (Number.isNaN(v) ? 0 : v)),
      d.rows,
      COLS,
      Number.NaN,
    );
    m.setLabels(d.labels);
    const b = new Booster([m]);
    b.setParam("booster", "gblinear");
    await b.updateOneIter(0, m);
    const bytes = b.saveModelToBuffer("ubj");
    b.dispose();
    m.dispose();
    expect(() => XgbModel.fromBuffer(bytes)).toThrow(expect.objectContaining({ code: "FAILED_PRECONDITION", message: expect.stringMatching(/gblinear/) }));
    await expect(XgbModel.fromUntrustedBuffer(bytes)).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
  });

  it("the native Forest rejects inconsistent trees instead of walking them", () => {
    const { Forest } = binding();
    const base = () => ({
      numFeature: 2,
      numGroup: 1,
      baseMargin: Float32Array.of(0.5),
      transform: 0,
      treeStart: Int32Array.of(0, 3),
      treeGroup: Int32Array.of(0),
      left: Int32Array.of(1, -1, -1),
      right: Int32Array.of(2, -1, -1),
      split: Int32Array.of(1, 0, 0),
      cond: Float32Array.of(0.5, -1, 1),
      defaultLeft: Uint8Array.of(1, 0, 0),
    });
    const f = new Forest(base());
    expect(Array.from(f.predict(Float32Array.of(0, 0, 0, 1, 0, Number.NaN), 3, 2, true)!)).toEqual([-0.5, 1.5, -0.5]);
    expect(f.predict(Float32Array.of(0, Number.POSITIVE_INFINITY), 1, 2, true)).toBeNull();
    expect(() => f.predict(Float32Array.of(0, 0, 0), 1, 3, true)).toThrow(/cols must be the model's 2 features/);
    f.dispose();
    expect(() => f.predict(Float32Array.of(0, 0), 1, 2, true)).toThrow(expect.objectContaining({ code: "DISPOSED" }));
    // A node no walk reaches (XGBoost keeps deleted nodes in its arrays) is left out.
    const pruned = new Forest({
      ...base(),
      treeStart: Int32Array.of(0, 5),
      left: Int32Array.of(3, -1, -1, -1, -1),
      right: Int32Array.of(4, -1, -1, -1, -1),
      split: Int32Array.of(1, 0, 0, 0, 0),
      cond: Float32Array.of(0.5, 7, 7, -1, 1),
      defaultLeft: Uint8Array.of(1, 0, 0, 0, 0),
    });
    expect(Array.from(pruned.predict(Float32Array.of(0, 0, 0, 1, 0, Number.NaN), 3, 2, true)!)).toEqual([-0.5, 1.5, -0.5]);
    pruned.dispose();
    const cases: [string, Partial<ReturnType<typeof base>>, RegExp][] = [
      ["a base margin per group, of the wrong count", { baseMargin: Float32Array.of(0.5, 0.5) }, /baseMargin must have numGroup entries/],
      ["child before its parent", { left: Int32Array.of(0, -1, -1) }, /tree 0 node 0: children out of range/],
      ["child outside the tree", { right: Int32Array.of(3, -1, -1) }, /tree 0 node 0: children out of range/],
      ["split feature out of range", { split: Int32Array.of(2, 0, 0) }, /split feature out of range/],
      ["a node with two parents", { left: Int32Array.of(1, -1, -1), right: Int32Array.of(1, -1, -1) }, /tree 0 node 1: reached from two parents/],
      ["group out of range", { treeGroup: Int32Array.of(1) }, /tree 0: group out of range/],
      ["tree starts", { treeStart: Int32Array.of(0, 2) }, /treeStart must run from 0 to the node count/],
      ["array lengths", { cond: Float32Array.of(0.5, 1) }, /node arrays differ in length/],
      ["array types", { left: [1, -1, -1] as unknown as Int32Array }, /spec.left must be an Int32Array/],
    ];
    for (const [, patch, msg] of cases) {
      expect(() => new Forest({ ...base(), ...patch }), String(msg)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(msg) }),
      );
    }
  });
});
