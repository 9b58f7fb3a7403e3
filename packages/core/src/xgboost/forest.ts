/**
 * The compiled-trees fast path of XGBoost prediction (native/src/forest.h).
 *
 * A single-row XGBoosterPredictFromDense costs tens of microseconds in a busy
 * server, most of it in the C API's per-call machinery, not in the trees. For
 * the models it can reproduce exactly, mlbridge walks a flat copy of the trees
 * instead. "Exactly" is checked, not assumed: when a model is loaded, both
 * paths predict probe rows built around every split threshold (at, just below,
 * just above, missing) and the fast path is used only if every margin and every
 * output is bit-identical to XGBoost's. Anything else stays on XGBoost.
 */
import { binding, type NativeBooster, type NativeForest, type NativeForestSpec } from "../binding";
import { seededRandom } from "../random";
import { decodeModel } from "./format";

type Json = Record<string, unknown>;

/** How each objective turns its base_score into a margin, and its margin into outputs (XGBoost 3.2's ProbToMargin and PredTransform). */
const OBJECTIVES: Record<string, { margin: "identity" | "logit" | "log"; transform: number }> = {
  "reg:squarederror": { margin: "identity", transform: 0 },
  "reg:linear": { margin: "identity", transform: 0 },
  "reg:squaredlogerror": { margin: "identity", transform: 0 },
  "reg:pseudohubererror": { margin: "identity", transform: 0 },
  "reg:absoluteerror": { margin: "identity", transform: 0 },
  "binary:logistic": { margin: "logit", transform: 1 },
  "reg:logistic": { margin: "logit", transform: 1 },
  "binary:logitraw": { margin: "identity", transform: 0 },
  "multi:softprob": { margin: "identity", transform: 2 },
  "multi:softmax": { margin: "identity", transform: 3 },
  "count:poisson": { margin: "log", transform: 4 },
  "reg:gamma": { margin: "log", transform: 4 },
  "reg:tweedie": { margin: "log", transform: 4 },
  "rank:pairwise": { margin: "identity", transform: 0 },
  "rank:ndcg": { margin: "identity", transform: 0 },
  "rank:map": { margin: "identity", transform: 0 },
};

const PROBE_ROWS = 256;

/** A compiled forest, or why the model stays on XGBoost. */
export type CompiledForest = { forest: NativeForest; reason?: undefined } | { forest?: undefined; reason: string };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The float32 next to `x` (up or down); x must be finite. */
function nextFloat(x: number, up: boolean): number {
  f32[0] = x;
  if (f32[0] === 0) return up ? 1.401298464324817e-45 : -1.401298464324817e-45;
  u32[0] += f32[0] > 0 === up ? 1 : -1;
  return f32[0];
}

/**
 * The intercepts of a model's `base_score`, as float32: a number (XGBoost <= 3.0
 * writes "5E-1") or a vector, one per output (3.1+ writes "[5E-1]" or
 * "[1E-1,2E-1,7E-1]"). Undefined when it is neither, or not finite.
 */
export function baseScores(v: unknown): number[] | undefined {
  const text = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : undefined;
  if (text === undefined) return undefined;
  const parts = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1).split(",") : [text];
  const out = parts.map((p) => (p.trim() === "" ? Number.NaN : Math.fround(Number(p))));
  return out.length && out.every(Number.isFinite) ? out : undefined;
}

/** XGBoost's common::Logit in float: -log(1/x - 1). */
function logit(x: number): number {
  return Math.fround(-Math.log(Math.fround(Math.fround(1 / Math.fround(x)) - 1)));
}

/** Builds the flat arrays of a model's trees; a string says why it cannot. */
export function forestSpec(doc: Json, objective: string): NativeForestSpec | string {
  const learner = doc.learner as Json;
  const booster = learner.gradient_booster as Json;
  if (booster.name !== "gbtree") return `booster ${String(booster.name)}`;
  const obj = OBJECTIVES[objective];
  if (!obj) return `objective ${objective}`;
  const mp = learner.learner_model_param as Json;
  const numFeature = Number(mp.num_feature);
  const numGroup = Math.max(1, Number(mp.num_class) || 0);
  if (Number(mp.num_target ?? 1) > 1) return "multi-target model";
  if (!(numFeature > 0)) return "model parameters";
  const scores = baseScores(mp.base_score);
  // One intercept for every output (XGBoost 3.1+ writes one per class; a single value is every output's).
  if (!scores || (scores.length !== 1 && scores.length !== numGroup)) return `base_score ${String(mp.base_score)}`;
  const baseMargin = new Float32Array(numGroup);
  for (let g = 0; g < numGroup; g++) {
    const baseScore = scores[scores.length === 1 ? 0 : g];
    // XGBoost computes these in float (ProbToMargin); the probe check catches a last-bit difference.
    baseMargin[g] =
      obj.margin === "identity"
        ? baseScore
        : obj.margin === "log"
          ? Math.fround(Math.log(baseScore))
          : logit(Math.min(Math.max(baseScore, Math.fround(1e-6)), Math.fround(1 - 1e-6)));
  }
  const model = booster.model as Json;
  const trees = model.trees as Json[];
  const treeInfo = model.tree_info as number[];
  let nodes = 0;
  for (const t of trees) nodes += (t.left_children as number[]).length;
  const spec: NativeForestSpec = {
    numFeature,
    numGroup,
    baseMargin,
    transform: obj.transform,
    treeStart: new Int32Array(trees.length + 1),
    treeGroup: Int32Array.from(treeInfo),
    left: new Int32Array(nodes),
    right: new Int32Array(nodes),
    split: new Int32Array(nodes),
    cond: new Float32Array(nodes),
    defaultLeft: new Uint8Array(nodes),
  };
  let at = 0;
  for (let i = 0; i < trees.length; i++) {
    const t = trees[i];
    if ((t.categories_nodes as unknown[] | undefined)?.length || (t.split_type as number[] | undefined)?.some((x) => x !== 0)) return "categorical splits";
    const left = t.left_children as number[];
    spec.treeStart[i] = at;
    spec.left.set(left, at);
    spec.right.set(t.right_children as number[], at);
    spec.split.set(t.split_indices as number[], at);
    spec.cond.set(
      (t.split_conditions as (number | null)[]).map((v) => v ?? Number.NaN),
      at,
    );
    spec.defaultLeft.set(
      (t.default_left as (number | boolean)[]).map((v) => (v ? 1 : 0)),
      at,
    );
    at += left.length;
  }
  spec.treeStart[trees.length] = at;
  return spec;
}

/** Probe rows: each value a split threshold of its feature, the float just below or above it, missing, or random. */
export function probeRows(spec: NativeForestSpec, rows = PROBE_ROWS, seed = 7): Float32Array {
  const thresholds: number[][] = Array.from({ length: spec.numFeature }, () => []);
  for (let i = 0; i < spec.left.length; i++) {
    if (spec.left[i] !== -1 && Number.isFinite(spec.cond[i])) thresholds[spec.split[i]].push(spec.cond[i]);
  }
  const rnd = seededRandom(seed);
  const out = new Float32Array(rows * spec.numFeature);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < spec.numFeature; j++) {
      const ts = thresholds[j];
      const t = ts.length ? ts[Math.floor(rnd() * ts.length)] : 0;
      const pick = rnd();
      out[r * spec.numFeature + j] =
        pick < 0.1 ? Number.NaN : pick < 0.35 ? t : pick < 0.6 ? nextFloat(t, false) : pick < 0.85 ? nextFloat(t, true) : (rnd() - 0.5) * 2 * (Math.abs(t) + 1);
    }
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Compiles a booster's trees when the model is one the fast path reproduces
 * bit for bit (checked on probe rows against XGBoost itself).
 */
export function compileForest(booster: NativeBooster, objective: string): CompiledForest {
  let forest: NativeForest | undefined;
  try {
    const { doc } = decodeModel(booster.saveModelToBuffer("json"));
    const spec = forestSpec(doc, objective);
    if (typeof spec === "string") return { reason: `not compiled: ${spec}` };
    forest = new (binding().Forest)(spec);
    const x = probeRows(spec);
    const rows = x.length / spec.numFeature;
    for (const margin of [true, false]) {
      const ours = forest.predict(x, rows, spec.numFeature, margin);
      const theirs = booster.predictDense(x, rows, spec.numFeature, {
        type: margin ? 1 : 0,
        iterationBegin: 0,
        iterationEnd: 0,
        strictShape: false,
        missing: Number.NaN,
      }).values;
      if (!ours || !sameBits(ours, theirs)) {
        forest.dispose();
        return { reason: `not compiled: its ${margin ? "margins" : "outputs"} differ from XGBoost's on probe rows` };
      }
    }
    return { forest };
  } catch (err) {
    forest?.dispose();
    return { reason: `not compiled: ${(err as Error).message}` };
  }
}
