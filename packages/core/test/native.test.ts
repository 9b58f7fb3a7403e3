/**
 * Tests of the raw native addon (native/build/Release/mlbridge.node, or
 * MLBRIDGE_NATIVE, e.g. the sanitizer build) against the contract in
 * src/binding.ts: return shapes, error codes, dispose semantics, and invalid
 * model bytes that must fail cleanly instead of reading out of bounds.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  binding,
  type NativeBooster,
  type NativeCrfTrainer,
  type NativeDMatrix,
  type NativeItem,
  type NativePredictOptions,
  type PackedSequences,
} from "../src/binding";
import { packLabels, packSequences } from "../src/crf/packed";

const B = binding();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mlbridge-native-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Deterministic bytes (xorshift32). */
function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Runs fn, expecting an Error with `code` whose message contains every fragment. */
function expectCode(fn: () => unknown, code: string, ...fragments: string[]): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(Error);
  const e = caught as Error & { code?: string };
  expect(e.code).toBe(code);
  for (const f of fragments) expect(e.message).toContain(f);
  return e;
}

async function expectReject(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
  const e = (await p.then(
    () => undefined,
    (err: unknown) => err,
  )) as (Error & { code?: string }) | undefined;
  expect(e, `expected a rejection with ${code}`).toBeInstanceOf(Error);
  expect(e!.code).toBe(code);
  for (const f of fragments) expect(e!.message).toContain(f);
}

describe("versions", () => {
  it("reports the bound library versions", () => {
    expect(B.versions()).toEqual({ xgboost: "3.2.0", crfsuite: "0.12.2" });
  });
});

// ---------------------------------------------------------------------------
// XGBoost
// ---------------------------------------------------------------------------

const ROWS = 90;
const COLS = 4;

/** Three well separated classes in four features. */
function threeClasses(): { X: Float32Array; y: Float32Array } {
  const X = new Float32Array(ROWS * COLS);
  const y = new Float32Array(ROWS);
  for (let r = 0; r < ROWS; r++) {
    const c = r % 3;
    y[r] = c;
    for (let k = 0; k < COLS; k++) X[r * COLS + k] = c * 3 + k * 0.25 + ((r * 7919) % 11) * 0.1;
  }
  return { X, y };
}

const { X, y } = threeClasses();
const OPTS: NativePredictOptions = { type: 0, iterationBegin: 0, iterationEnd: 0, strictShape: false, missing: Number.NaN };
const ROUNDS = 4;

async function trainBooster(): Promise<{ d: NativeDMatrix; bo: NativeBooster; evals: string[] }> {
  const d = new B.DMatrix(X, ROWS, COLS, Number.NaN);
  d.setLabels(y);
  const bo = new B.Booster([d]);
  bo.setParam("objective", "multi:softmax");
  bo.setParam("num_class", "3");
  bo.setParam("max_depth", "3");
  bo.setParam("eval_metric", "merror");
  const evals: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await bo.updateOneIter(i, d);
    evals.push(bo.evalOneIter(i, [d], ["train"]));
  }
  return { d, bo, evals };
}

function fromBuffer(buf: Buffer): NativeBooster {
  const bo = new B.Booster([]);
  bo.loadModelFromBuffer(buf);
  return bo;
}

describe("XGBoost DMatrix + Booster", () => {
  it("trains a 3-class multi:softmax model and evaluates each iteration", async () => {
    const { d, bo, evals } = await trainBooster();
    expect(d.numRows()).toBe(ROWS);
    expect(d.numCols()).toBe(COLS);
    expect(evals).toHaveLength(ROUNDS);
    evals.forEach((line, i) => expect(line).toMatch(new RegExp(`^\\[${i}\\]\\ttrain-merror:[0-9.e-]+$`)));
    expect(bo.boostedRounds()).toBe(ROUNDS);
    expect(bo.numFeatures()).toBe(COLS);
    const p = bo.predictDense(X, ROWS, COLS, OPTS);
    expect(p.shape).toEqual([ROWS]);
    expect(p.values).toBeInstanceOf(Float32Array);
    expect(Array.from(p.values)).toEqual(Array.from(y));
    bo.dispose();
    d.dispose();
  });

  it("pins nthread to 1 at creation and lets setParam override it", async () => {
    const { d, bo } = await trainBooster();
    const nthread = (cfg: string) => JSON.parse(cfg).learner.generic_param.nthread as string;
    expect(nthread(bo.saveConfig())).toBe("1");
    bo.setParam("nthread", "2");
    await bo.updateOneIter(ROUNDS, d);
    expect(nthread(bo.saveConfig())).toBe("2");
    const cfg = bo.saveConfig();
    expect(JSON.parse(cfg).learner.objective.name).toBe("multi:softmax");
    bo.loadConfig(cfg);
    expectCode(() => bo.loadConfig("{"), "XGBOOST_ERROR");
    bo.dispose();
    d.dispose();
  });

  it("predicts the same synchronously and asynchronously, with margins and strict shapes", async () => {
    const { d, bo } = await trainBooster();
    const sync = bo.predictDense(X, ROWS, COLS, OPTS);
    const async_ = await bo.predictDenseAsync(X, ROWS, COLS, OPTS);
    expect(async_.shape).toEqual(sync.shape);
    expect(Array.from(async_.values)).toEqual(Array.from(sync.values));
    const margins = bo.predictDense(X, ROWS, COLS, { ...OPTS, type: 1, strictShape: true });
    expect(margins.shape).toEqual([ROWS, 3]);
    const marginsAsync = await bo.predictDenseAsync(X, ROWS, COLS, { ...OPTS, type: 1, strictShape: true });
    expect(Array.from(marginsAsync.values)).toEqual(Array.from(margins.values));
    // The same values as bytes, at an odd offset: read in place, copied where needed.
    const bytes = new Uint8Array(X.byteLength + 1).subarray(1);
    bytes.set(new Uint8Array(X.buffer, X.byteOffset, X.byteLength));
    expect(Array.from(bo.predictDense(bytes, ROWS, COLS, OPTS).values)).toEqual(Array.from(sync.values));
    expect(Array.from((await bo.predictDenseAsync(bytes, ROWS, COLS, OPTS)).values)).toEqual(Array.from(sync.values));
    expectCode(
      () => bo.predictDense(bytes.subarray(1), ROWS, COLS, OPTS),
      "INVALID_ARGUMENT",
      "(data) must be a Float32Array or a Uint8Array of float32 bytes",
    );
    expectCode(() => bo.predictDense(new Float64Array(ROWS * COLS) as never, ROWS, COLS, OPTS), "INVALID_ARGUMENT");
    // Only the first tree layer.
    const first = bo.predictDense(X, ROWS, COLS, { ...OPTS, type: 1, iterationEnd: 1 });
    expect(first.values.length).toBe(ROWS * 3);
    expect(Array.from(first.values)).not.toEqual(Array.from(margins.values));
    // A value equal to `missing` is treated as missing: same as NaN.
    const row5 = new Float32Array([5, 5, 5, 5]);
    const rowNaN = new Float32Array([NaN, NaN, NaN, NaN]);
    const m = (data: Float32Array, missing: number) => Array.from(bo.predictDense(data, 1, COLS, { ...OPTS, type: 1, missing }).values);
    expect(m(row5, 5)).toEqual(m(rowNaN, Number.NaN));
    bo.dispose();
    d.dispose();
  });

  it("saves and loads model files (.json, .ubj) with identical predictions", async () => {
    const { d, bo } = await trainBooster();
    const want = Array.from(bo.predictDense(X, ROWS, COLS, { ...OPTS, type: 1 }).values);
    for (const ext of [".json", ".ubj"]) {
      const file = path.join(tmp, `model${ext}`);
      bo.saveModel(file);
      const head = fs.readFileSync(file);
      if (ext === ".json") expect(() => JSON.parse(head.toString("utf8"))).not.toThrow();
      else expect(() => JSON.parse(head.toString("utf8"))).toThrow();
      const loaded = new B.Booster([]);
      loaded.loadModel(file);
      expect(loaded.boostedRounds()).toBe(ROUNDS);
      expect(Array.from(loaded.predictDense(X, ROWS, COLS, { ...OPTS, type: 1 }).values)).toEqual(want);
      loaded.dispose();
    }
    expectCode(() => new B.Booster([]).loadModel(path.join(tmp, "missing.json")), "XGBOOST_ERROR");
    bo.dispose();
    d.dispose();
  });

  it("round-trips models through json and ubj Buffers", async () => {
    const { d, bo } = await trainBooster();
    bo.setFeatureNames(["a", "b", "c", "d"]);
    bo.setAttr("classes", '["x","y","z"]');
    const want = Array.from(bo.predictDense(X, ROWS, COLS, OPTS).values);
    const json = bo.saveModelToBuffer("json");
    const ubj = bo.saveModelToBuffer("ubj");
    expect(Buffer.isBuffer(json) && Buffer.isBuffer(ubj)).toBe(true);
    expect(JSON.parse(json.toString("utf8")).learner).toBeDefined();
    for (const buf of [json, ubj]) {
      const loaded = fromBuffer(buf);
      expect(Array.from(loaded.predictDense(X, ROWS, COLS, OPTS).values)).toEqual(want);
      expect(loaded.getFeatureNames()).toEqual(["a", "b", "c", "d"]);
      expect(loaded.getAttr("classes")).toBe('["x","y","z"]');
      expect(loaded.boostedRounds()).toBe(ROUNDS);
      loaded.dispose();
    }
    expectCode(() => bo.saveModelToBuffer("xml" as "json"), "INVALID_ARGUMENT", "format");
    bo.dispose();
    d.dispose();
  });

  it("gets and sets feature names and attributes", async () => {
    const { d, bo } = await trainBooster();
    expect(bo.getFeatureNames()).toEqual([]);
    bo.setFeatureNames(["f0", "f1", "f2", "f3"]);
    expect(bo.getFeatureNames()).toEqual(["f0", "f1", "f2", "f3"]);
    expect(bo.getAttr("note")).toBeNull();
    bo.setAttr("note", "hello");
    expect(bo.getAttr("note")).toBe("hello");
    bo.setAttr("note", null);
    expect(bo.getAttr("note")).toBeNull();
    d.setFeatureNames(["f0", "f1", "f2", "f3"]);
    expectCode(() => d.setFeatureNames(["only-one"]), "INVALID_ARGUMENT", "numCols()");
    d.setWeights(new Float32Array(ROWS).fill(1));
    expectCode(() => d.setLabels(new Float32Array(3)), "INVALID_ARGUMENT", "numRows()");
    bo.dispose();
    d.dispose();
  });

  it("rejects random bytes and malformed models with XGBOOST_ERROR", () => {
    const bytes = pseudoRandomBytes(64, 12345);
    bytes[0] = 0; // not '{' (JSON/UBJ); XGBoost 3 no longer reads the legacy binary format at all
    const bo = new B.Booster([]);
    expectCode(() => bo.loadModelFromBuffer(bytes), "XGBOOST_ERROR", "Invalid model format");
    expectCode(() => bo.loadModelFromBuffer(Buffer.from('{"learner": 1}')), "XGBOOST_ERROR");
    expectCode(() => bo.loadModelFromBuffer(Buffer.alloc(0)), "INVALID_ARGUMENT");
    bo.dispose();
  });

  it("checks arguments in C++ as a last resort", async () => {
    const { d, bo } = await trainBooster();
    expectCode(() => bo.predictDense(X, ROWS, COLS + 1, OPTS), "INVALID_ARGUMENT", "rows*cols");
    expectCode(() => bo.predictDense(X, ROWS, COLS, { ...OPTS, type: 2 as 0 }), "INVALID_ARGUMENT", "options.type");
    expectCode(() => bo.predictDense([1, 2] as unknown as Float32Array, 1, 2, OPTS), "INVALID_ARGUMENT", "Float32Array");
    // Three columns where the model expects four: XGBoost's own check.
    expectCode(() => bo.predictDense(new Float32Array(3), 1, 3, OPTS), "XGBOOST_ERROR");
    expectCode(() => new B.Booster([{} as NativeDMatrix]), "INVALID_ARGUMENT", "DMatrix");
    expectCode(() => new B.Booster([bo as unknown as NativeDMatrix]), "INVALID_ARGUMENT", "DMatrix");
    expectCode(() => new B.DMatrix(X, ROWS, COLS + 1, Number.NaN), "INVALID_ARGUMENT");
    expectCode(() => bo.evalOneIter(0, [d], []), "INVALID_ARGUMENT", "same length");
    bo.dispose();
    d.dispose();
  });

  it("throws DISPOSED after dispose(), which is idempotent", async () => {
    const { d, bo } = await trainBooster();
    bo.dispose();
    bo.dispose();
    expectCode(() => bo.predictDense(X, ROWS, COLS, OPTS), "DISPOSED", "Booster");
    expectCode(() => bo.boostedRounds(), "DISPOSED");
    expectCode(() => bo.updateOneIter(0, d), "DISPOSED");
    d.dispose();
    expectCode(() => d.numRows(), "DISPOSED", "DMatrix");
    expectCode(() => new B.Booster([d]), "DISPOSED", "DMatrix");
  });

  it("defers the free when dispose() is called during async work", async () => {
    const { d, bo } = await trainBooster();
    const big = new Float32Array(20000 * COLS);
    for (let i = 0; i < big.length; i++) big[i] = X[i % X.length];
    const pending = bo.predictDenseAsync(big, 20000, COLS, OPTS);
    bo.dispose();
    const p = await pending;
    expect(p.shape).toEqual([20000]);
    expect(Array.from(p.values.subarray(0, ROWS))).toEqual(Array.from(y));
    expectCode(() => bo.predictDense(X, ROWS, COLS, OPTS), "DISPOSED");

    // A matrix in use by a training step: mutations are BUSY, dispose is deferred.
    const bo2 = new B.Booster([d]);
    bo2.setParam("objective", "multi:softmax");
    bo2.setParam("num_class", "3");
    const step = bo2.updateOneIter(0, d);
    expectCode(() => d.setLabels(y), "BUSY");
    d.dispose();
    bo2.dispose();
    await step;
    expectCode(() => d.numCols(), "DISPOSED");
  });
});

// ---------------------------------------------------------------------------
// CRFsuite
// ---------------------------------------------------------------------------

type Token = [word: string, label: string];

const DT: Token[] = [
  ["the", "DT"],
  ["a", "DT"],
];
const NN: Token[] = [
  ["dog", "NN"],
  ["cat", "NN"],
  ["bird", "NN"],
];
const VB: Token[] = [
  ["runs", "VB"],
  ["sleeps", "VB"],
  ["sings", "VB"],
];
const JJ: Token[] = [
  ["big", "JJ"],
  ["small", "JJ"],
];

function features(word: string): NativeItem {
  return [
    [`w=${word}`, 1],
    [`suf=${word.slice(-1)}`, 1],
    [`len=${Math.min(word.length, 5)}`, 0.5],
  ];
}

/** "DT (JJ) NN VB" sentences. */
const SENTENCES: Token[][] = Array.from({ length: 36 }, (_, i) => {
  const s: Token[] = [DT[i % 2]];
  if (i % 3 === 0) s.push(JJ[i % 2]);
  s.push(NN[i % 3], VB[(i + 1) % 3]);
  return s;
});
const items = (s: Token[]): NativeItem[] => s.map(([w]) => features(w));
const labelsOf = (s: Token[]): string[] => s.map(([, l]) => l);

/** Appends `sentences` as core does: packed sequences with packed labels, in one call. */
function appendSentences(t: NativeCrfTrainer, sentences: readonly Token[][], group = 0): void {
  t.appendPacked(packSequences(sentences.map(items)), packLabels(sentences.flatMap(labelsOf)), group);
}

const ALGORITHMS = ["lbfgs", "l2sgd", "ap", "pa", "arow"];

let trainedModel: string | undefined;

/** Trains (once) a small lbfgs model; returns its file and log lines. */
async function trainModel(): Promise<{ file: string; lines: string[] }> {
  const file = path.join(tmp, "tagger.crfsuite");
  const t = new B.CrfTrainer("lbfgs");
  t.set("max_iterations", "30");
  appendSentences(t, SENTENCES);
  const lines: string[] = [];
  const res = await t.train(file, -1, (line) => lines.push(line));
  expect(res).toEqual({ status: 0 });
  t.dispose();
  trainedModel = file;
  return { file, lines };
}

async function modelFile(): Promise<string> {
  return trainedModel ?? (await trainModel()).file;
}

describe("CRFsuite CrfTrainer", () => {
  it("has exactly the methods of the contract in src/binding.ts (no test-only ones)", () => {
    const methods = (cls: unknown) => Object.getOwnPropertyNames((cls as { prototype: object }).prototype).sort();
    expect(methods(B.CrfTrainer)).toEqual(["appendPacked", "constructor", "dispose", "get", "help", "params", "set", "train"]);
    expect(methods(B.CrfTagger)).toEqual(["attributes", "constructor", "dispose", "labels", "probability", "tag", "tagPacked", "tagPackedAsync"]);
  });

  it("lists, describes, reads and writes parameters of every algorithm", () => {
    for (const algo of ALGORITHMS) {
      const t = new B.CrfTrainer(algo);
      const names = t.params();
      expect(names.length).toBeGreaterThan(3);
      expect(names).toContain("max_iterations");
      expect(names).toContain("feature.minfreq");
      for (const name of names) {
        expect(t.help(name)).toMatch(/^(int|float|string): \S/s);
        expect(typeof t.get(name)).toBe("string");
      }
      t.set("max_iterations", "7");
      expect(t.get("max_iterations")).toBe("7");
      t.set("feature.minfreq", "0.5");
      expect(Number(t.get("feature.minfreq"))).toBe(0.5);
      expectCode(() => t.set("no.such.param", "1"), "CRFSUITE_ERROR", "no.such.param", "unknown parameter");
      expectCode(() => t.get("no.such.param"), "CRFSUITE_ERROR", "no.such.param");
      expectCode(() => t.help("no.such.param"), "CRFSUITE_ERROR", "no.such.param");
      expectCode(() => t.set("max_iterations", "many"), "CRFSUITE_ERROR", "max_iterations", "not an int");
      expectCode(() => t.set("feature.minfreq", "NaN"), "CRFSUITE_ERROR", "not a finite float");
      t.dispose();
    }
    expectCode(() => new B.CrfTrainer("crf"), "INVALID_ARGUMENT", "algorithm");
  });

  it("trains with lbfgs and forwards every log line in order", async () => {
    const { file, lines } = await trainModel();
    expect(fs.statSync(file).size).toBeGreaterThan(48);
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.every((l) => !l.includes("\n"))).toBe(true);
    const first = lines.findIndex((l) => l.startsWith("***** Iteration #"));
    expect(first).toBeGreaterThan(lines.indexOf("L-BFGS optimization"));
    expect(lines).toContain("***** Iteration #1 *****");
    expect(lines.some((l) => l.startsWith("Total seconds required for training:"))).toBe(true);
  });

  it("validates appended data and refuses changes while training", async () => {
    const t = new B.CrfTrainer("ap");
    expectCode(() => t.train(path.join(tmp, "none.crfsuite"), -1, () => {}), "INVALID_ARGUMENT", "no training data: call appendPacked() before train()");
    const nan = { ...packSequences([[[["w=x", 1]]]]), attributeWeights: Float64Array.of(Number.NaN) };
    expectCode(
      () => t.appendPacked(nan, packLabels(["DT"]), 0),
      "INVALID_ARGUMENT",
      "packed.attributeWeights: attribute 0 (sequence 0, item 0, attribute 0) is not finite",
    );
    expectCode(() => t.train(path.join(tmp, "none.crfsuite"), -1, () => {}), "INVALID_ARGUMENT", "no training data");
    appendSentences(t, SENTENCES);
    const run = t.train(path.join(tmp, "ap.crfsuite"), -1, () => {});
    expectCode(() => appendSentences(t, SENTENCES.slice(0, 1)), "BUSY");
    expectCode(() => t.set("max_iterations", "3"), "BUSY");
    expect(await run).toEqual({ status: 0 });
    await expectReject(
      t.train(path.join(tmp, "no-such-dir", "m.crfsuite"), -1, () => {}),
      "CRFSUITE_ERROR",
      "did not write the model file",
    );
    t.dispose();
    expectCode(() => t.params(), "DISPOSED", "CrfTrainer");
  });

  it("appendPacked in parts trains the very model one call does, and appends nothing from bad input", async () => {
    const train = async (fill: (t: InstanceType<typeof B.CrfTrainer>) => void, name: string) => {
      const t = new B.CrfTrainer("lbfgs");
      t.set("max_iterations", "10");
      fill(t);
      const file = path.join(tmp, name);
      await t.train(file, -1, () => {});
      t.dispose();
      return fs.readFileSync(file);
    };
    const one = await train((t) => SENTENCES.forEach((s) => appendSentences(t, [s])), "one-by-one.crfsuite");
    const packed = packSequences(SENTENCES.map(items));
    const labels = packLabels(SENTENCES.flatMap(labelsOf));
    expect(await train((t) => t.appendPacked(packed, labels, 0), "packed.crfsuite")).toEqual(one);

    const t = new B.CrfTrainer("ap");
    const n = SENTENCES.flatMap(labelsOf).length;
    expectCode(() => t.appendPacked(packed, packLabels(["DT"]), 0), "INVALID_ARGUMENT", `labels holds 1 NUL-terminated labels, expected ${n} (one per item)`);
    expectCode(() => t.appendPacked(packed, Buffer.concat([labels, Buffer.from("NN\0")]), 0), "INVALID_ARGUMENT", "labels has 3 bytes after");
    expectCode(() => t.appendPacked(packed, Buffer.from("DT\0\0" + "NN\0".repeat(n - 2)), 0), "INVALID_ARGUMENT", "labels: label 1 is empty");
    const withEmpty = packSequences([items(SENTENCES[0]), []]);
    expectCode(() => t.appendPacked(withEmpty, packLabels(labelsOf(SENTENCES[0])), 0), "INVALID_ARGUMENT", "packed.sequenceLengths: sequence 1 is empty");
    expectCode(() => t.appendPacked({ ...packed, attributeWeights: Float64Array.of(1) }, labels, 0), "INVALID_ARGUMENT", "packed.attributeWeights");
    expectCode(() => t.appendPacked(packed, labels, -1), "INVALID_ARGUMENT", "group");
    expectCode(() => t.train(path.join(tmp, "none.crfsuite"), -1, () => {}), "INVALID_ARGUMENT", "no training data");
    t.dispose();
  });

  it("rejects with the error thrown by onLog, and trains with a holdout group", async () => {
    const t = new B.CrfTrainer("lbfgs");
    t.set("max_iterations", "5");
    SENTENCES.forEach((s, i) => appendSentences(t, [s], i % 4 === 0 ? 1 : 0));
    const boom = new Error("log sink failed");
    await expect(
      t.train(path.join(tmp, "h.crfsuite"), 1, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    const lines: string[] = [];
    expect(await t.train(path.join(tmp, "h2.crfsuite"), 1, (l) => lines.push(l))).toEqual({ status: 0 });
    expect(lines).toContain("Holdout group: 2");
    t.dispose();
  });
});

describe("CRFsuite CrfTagger", () => {
  it("tags the same from a file and from a Buffer", async () => {
    const file = await modelFile();
    const a = B.CrfTagger.fromFile(file);
    const b = B.CrfTagger.fromBuffer(fs.readFileSync(file));
    for (const s of SENTENCES) {
      const ra = a.tag(items(s), false, false);
      expect(ra).toEqual({ labels: labelsOf(s) });
      expect(b.tag(items(s), false, false)).toEqual(ra);
    }
    expect([...a.labels()].sort()).toEqual(["DT", "JJ", "NN", "VB"]);
    expect(b.labels()).toEqual(a.labels());
    const attrs = a.attributes();
    expect(attrs).toContain("w=dog");
    expect(attrs).toContain("suf=s");
    expect(b.attributes()).toEqual(attrs);
    a.dispose();
    b.dispose();
  });

  it("returns marginals (items x labels, rows summing to 1) and path probabilities", async () => {
    const tagger = B.CrfTagger.fromFile(await modelFile());
    const L = tagger.labels().length;
    // An unknown word: its unknown attributes are dropped, known ones kept.
    const seq = [...items(SENTENCES[0]), features("zebra")];
    const r = tagger.tag(seq, true, true);
    expect(r.labels).toHaveLength(seq.length);
    expect(r.marginals).toBeInstanceOf(Float64Array);
    expect(r.marginals!.length).toBe(seq.length * L);
    for (let t = 0; t < seq.length; t++) {
      let sum = 0;
      for (let l = 0; l < L; l++) sum += r.marginals![t * L + l];
      expect(sum).toBeCloseTo(1, 6);
    }
    expect(r.probability).toBeGreaterThan(0);
    expect(r.probability).toBeLessThanOrEqual(1);
    expect(tagger.probability(seq, r.labels)).toBeCloseTo(r.probability!, 10);
    const other = r.labels.map((l) => (l === "DT" ? "NN" : "DT"));
    expect(tagger.probability(seq, other)).toBeLessThan(r.probability!);
    expectCode(() => tagger.probability(seq, r.labels.slice(1)), "INVALID_ARGUMENT", "one label per item");
    expectCode(
      () =>
        tagger.probability(
          seq,
          seq.map(() => "XX"),
        ),
      "INVALID_ARGUMENT",
      '"XX" is not a label',
    );
    expect(tagger.tag([], true, true)).toEqual({ labels: [], probability: 1, marginals: new Float64Array(0) });
    expectCode(() => tagger.tag([[["w=x", "1" as unknown as number]]], false, false), "INVALID_ARGUMENT", "[name: non-empty string");
    tagger.dispose();
  });

  it("tagPacked and tagPackedAsync give tag's results, flat, for every sequence", async () => {
    const tagger = B.CrfTagger.fromFile(await modelFile());
    const labels = tagger.labels();
    const L = labels.length;
    // An empty sequence, an item without attributes and an unknown word among them.
    const seqs = [...SENTENCES.map(items), [], [features("zebra"), []]];
    const packed = packSequences(seqs);
    for (const r of [tagger.tagPacked(packed, true, true), await tagger.tagPackedAsync(packed, true, true)]) {
      let first = 0;
      seqs.forEach((s, i) => {
        const one = tagger.tag(s, true, true);
        expect(Array.from(r.paths.subarray(first, first + s.length), (k) => labels[k])).toEqual(one.labels);
        expect(r.probabilities![i]).toBe(one.probability);
        expect(r.marginals!.subarray(first * L, (first + s.length) * L)).toEqual(one.marginals);
        first += s.length;
      });
      expect(r.paths.length).toBe(first);
      expect(r.probabilities!.length).toBe(seqs.length);
    }
    const plain = tagger.tagPacked(packed, false, false);
    expect(Object.keys(plain)).toEqual(["paths"]);
    expect(Array.from(plain.paths.subarray(0, 4), (k) => labels[k])).toEqual(labelsOf(SENTENCES[0]));
    // Weights of 1.0 given explicitly tag as when absent; other weights change the scores.
    const n = packed.itemAttributeCounts.reduce((a, b) => a + b, 0);
    const ones = tagger.tagPacked({ ...packed, attributeWeights: new Float64Array(n).fill(1) }, true, false);
    expect(ones.probabilities).toEqual(tagger.tagPacked({ ...packed, attributeWeights: null }, true, false).probabilities);
    const halves = tagger.tagPacked({ ...packed, attributeWeights: new Float64Array(n).fill(0.5) }, true, false);
    expect(halves.probabilities![0]).not.toBe(ones.probabilities![0]);
    // Dispose while a batch runs: the batch completes, the tagger is freed after.
    const pending = tagger.tagPackedAsync(packed, false, false);
    tagger.dispose();
    expect((await pending).paths).toEqual(plain.paths);
    expectCode(() => tagger.tagPacked(packed, false, false), "DISPOSED", "CrfTagger");
    expectCode(() => tagger.labels(), "DISPOSED");
  });

  it("tagPacked names the field and position of bad packed input, and tags on afterwards", async () => {
    const tagger = B.CrfTagger.fromFile(await modelFile());
    const names = (...n: string[]) => Buffer.from(n.map((x) => x + "\0").join(""));
    const good: PackedSequences = { attributeNames: names("w=the", "w=dog"), itemAttributeCounts: Uint32Array.of(1, 1), sequenceLengths: Uint32Array.of(2) };
    const bad: [Partial<PackedSequences> | null, string][] = [
      [{ sequenceLengths: Uint32Array.of(3) }, "packed.sequenceLengths: the lengths add up to 3 items, but itemAttributeCounts has 2"],
      [{ attributeNames: names("w=the") }, "packed.attributeNames: holds 1 NUL-terminated names, itemAttributeCounts add up to 2"],
      [{ attributeNames: Buffer.from("w=the\0w=dog") }, "packed.attributeNames: holds 1 NUL-terminated names"],
      [{ attributeNames: Buffer.from("w=the\0\0") }, "packed.attributeNames: attribute 1 (sequence 0, item 1, attribute 0) has an empty name"],
      [{ attributeNames: names("w=the", "w=dog", "w=cat") }, "packed.attributeNames: has 6 bytes after the 2 names"],
      [{ attributeWeights: Float64Array.of(1) }, "packed.attributeWeights: expected 2 weights (one per attribute) or none, got 1"],
      [{ attributeWeights: Float64Array.of(1, Number.NaN) }, "packed.attributeWeights: attribute 1 (sequence 0, item 1, attribute 0) is not finite"],
      [{ itemAttributeCounts: [1, 1] as unknown as Uint32Array }, "packed.itemAttributeCounts must be a Uint32Array"],
      [{ attributeNames: "w=the\0w=dog\0" as unknown as Uint8Array }, "packed.attributeNames must be a Uint8Array"],
      [
        { sequenceLengths: Uint32Array.of(1 << 21), itemAttributeCounts: new Uint32Array(1 << 21), attributeNames: Buffer.alloc(0) },
        "packed: sequence 0 is too long",
      ],
      [null, "packed must be a PackedSequences object"],
    ];
    for (const [change, message] of bad) {
      const input = (change === null ? null : { ...good, ...change }) as PackedSequences;
      expectCode(() => tagger.tagPacked(input, false, false), "INVALID_ARGUMENT", message);
      expectCode(() => tagger.tagPackedAsync(input, false, false), "INVALID_ARGUMENT", message);
    }
    expect(Array.from(tagger.tagPacked(good, false, false).paths, (k) => tagger.labels()[k])).toEqual(["DT", "NN"]);
    tagger.dispose();
  });

  it("refuses attribute names that are empty or hold a NUL (CRFsuite would truncate them)", async () => {
    const tagger = B.CrfTagger.fromFile(await modelFile());
    for (const name of ["", "w=dog\0suffix"]) {
      expectCode(() => tagger.tag([[[name, 1]]], false, false), "INVALID_ARGUMENT", "argument 1 (items)[0][0]", "non-empty string without NUL");
      expectCode(() => tagger.probability([[[name, 1]]], ["DT"]), "INVALID_ARGUMENT", "non-empty string without NUL");
    }
    tagger.dispose();
  });

  it("refuses random bytes, truncated and corrupted models with CRFSUITE_ERROR", async () => {
    const good = fs.readFileSync(await modelFile());
    expectCode(() => B.CrfTagger.fromBuffer(pseudoRandomBytes(4096, 7)), "CRFSUITE_ERROR", "not a CRFsuite model");
    expectCode(() => B.CrfTagger.fromBuffer(Buffer.alloc(0)), "CRFSUITE_ERROR");
    const withMagic = pseudoRandomBytes(4096, 99);
    withMagic.write("lCRF", 0, "latin1");
    expectCode(() => B.CrfTagger.fromBuffer(withMagic), "CRFSUITE_ERROR");
    for (const n of [10, 48, 100, good.length >> 1, good.length - 1]) {
      expectCode(() => B.CrfTagger.fromBuffer(good.subarray(0, n)), "CRFSUITE_ERROR");
    }
    expectCode(() => B.CrfTagger.fromBuffer(good.subarray(0, good.length >> 1)), "CRFSUITE_ERROR", "truncated");
    const truncatedFile = path.join(tmp, "truncated.crfsuite");
    fs.writeFileSync(truncatedFile, good.subarray(0, good.length - 7));
    expectCode(() => B.CrfTagger.fromFile(truncatedFile), "CRFSUITE_ERROR", "truncated");
    expectCode(() => B.CrfTagger.fromFile(path.join(tmp, "does-not-exist")), "CRFSUITE_ERROR", "cannot open");
    expectCode(() => B.CrfTagger.fromBuffer("model" as unknown as Buffer), "INVALID_ARGUMENT", "Buffer");
    const Ctor = B.CrfTagger as unknown as new () => unknown;
    expectCode(() => new Ctor(), "INVALID_ARGUMENT", "fromFile");
  });

  it("never crashes on single-byte corruptions of a valid model", async () => {
    const good = fs.readFileSync(await modelFile());
    const rnd = pseudoRandomBytes(4 * 3000, 2024);
    const seq = [...items(SENTENCES[3]), features("zebra")];
    let loaded = 0;
    for (let i = 0; i < 3000; i++) {
      const bad = Buffer.from(good);
      bad[rnd.readUInt32LE(4 * i) % bad.length] ^= 1 << (i % 8) || 1;
      let tagger: ReturnType<typeof B.CrfTagger.fromBuffer>;
      try {
        tagger = B.CrfTagger.fromBuffer(bad);
      } catch (err) {
        expect((err as { code?: string }).code).toBe("CRFSUITE_ERROR");
        continue;
      }
      loaded++;
      const r = tagger.tag(seq, true, true);
      expect(r.labels).toHaveLength(seq.length);
      tagger.attributes();
      tagger.dispose();
    }
    // Most flips land in weights or strings, which stay loadable.
    expect(loaded).toBeGreaterThan(0);
  });
});
