import { InvalidInputError } from "../errors";

/**
 * XGBoost 3.2 parameters accepted by training (general, booster, tree and
 * learning-task parameters). XGBoost itself only warns about unknown names,
 * which hides typos; mlbridge rejects them. Since XGBoost 2.0 the default
 * tree_method is `hist` (it was `exact` for small data in 1.7).
 */
export const XGBOOST_PARAMS = new Set([
  "booster",
  "verbosity",
  "nthread",
  "disable_default_eval_metric",
  "validate_parameters",
  "seed",
  "seed_per_iteration",
  "random_state",
  "eta",
  "learning_rate",
  "gamma",
  "min_split_loss",
  "max_depth",
  "min_child_weight",
  "max_delta_step",
  "subsample",
  "sampling_method",
  "colsample_bytree",
  "colsample_bylevel",
  "colsample_bynode",
  "lambda",
  "reg_lambda",
  "alpha",
  "reg_alpha",
  "tree_method",
  "scale_pos_weight",
  "updater",
  "refresh_leaf",
  "process_type",
  "grow_policy",
  "max_leaves",
  "max_bin",
  "num_parallel_tree",
  "monotone_constraints",
  "interaction_constraints",
  "max_cat_to_onehot",
  "max_cat_threshold",
  "multi_strategy",
  "sample_type",
  "normalize_type",
  "rate_drop",
  "one_drop",
  "skip_drop",
  "feature_selector",
  "top_k",
  "objective",
  "base_score",
  "eval_metric",
  "num_class",
  "tweedie_variance_power",
  "huber_slope",
  "quantile_alpha",
  "aft_loss_distribution",
  "lambdarank_pair_method",
  "lambdarank_num_pair_per_sample",
  "lambdarank_unbiased",
  "lambdarank_bias_norm",
  "ndcg_exp_gain",
  "max_cached_hist_node",
  "device",
  "aft_loss_distribution_scale",
  "lambdarank_score_normalization",
  "lambdarank_normalization",
]);

/**
 * Parameters that XGBoost 1.x took and 3.2 no longer does, with what to do instead
 * (a model trained with them elsewhere is still imported: they are not part of it).
 */
export const XGBOOST_REMOVED_PARAMS: Record<string, string> = {
  gpu_id: "removed in XGBoost 3.1 (use device; this server trains on the CPU)",
  predictor: "removed in XGBoost 2.0 (the prediction device follows device)",
  single_precision_histogram: "removed in XGBoost 2.0 (histograms are always double precision)",
  deterministic_histogram: "removed in XGBoost 2.0 (histograms are always deterministic)",
  sketch_eps: "removed in XGBoost 2.0 (use max_bin)",
};

/** Values of tree_method that XGBoost 3.2 no longer takes, with what to do instead. */
const REMOVED_TREE_METHODS: Record<string, string> = {
  gpu_hist: "removed in XGBoost 3.0 (use tree_method=hist with device=cuda; this server trains on the CPU)",
};

/** A named training preset. */
export interface XgbPreset {
  params: Record<string, string>;
  numRounds: number;
  testFraction: number;
  validationFraction: number;
}

/** The book's iris classifier: multi:softmax, 3 classes, depth 2, eta 1, 2 rounds, 20% test, 20% validation. */
export const XGB_PRESETS: Record<string, XgbPreset> = {
  iris: {
    // base_score 0.5: the book's XGBoost (1.x) model. XGBoost >= 3.1 would otherwise fit one
    // intercept per class, a model that XGBoost <= 3.0 cannot read from an export (measured:
    // the same merror lines, 0.011111 / 0.100000, and validation accuracy 0.9, either way).
    params: { objective: "multi:softmax", num_class: "3", max_depth: "2", eta: "1", eval_metric: "merror", base_score: "0.5" },
    numRounds: 2,
    testFraction: 0.2,
    validationFraction: 0.2,
  },
};

/**
 * Returns a preset by name.
 * @throws InvalidInputError naming the known presets
 */
export function xgbPreset(name: string): XgbPreset {
  const p = Object.hasOwn(XGB_PRESETS, name) ? XGB_PRESETS[name] : undefined;
  if (!p) throw new InvalidInputError(`preset: unknown preset ${JSON.stringify(name)} (known: ${Object.keys(XGB_PRESETS).join(", ")})`);
  return p;
}

/** Why gblinear models are refused, at training and at load: the bound XGBoost predicts only in place, which gblinear does not support. */
export const GBLINEAR_UNSERVABLE = "gblinear models cannot be served (XGBoost's in-place prediction, 3.2 included, does not support them); use gbtree or dart";

/**
 * Bounds of the parameters that set how much work one boosting round does.
 * A round cannot be interrupted (cancellation takes effect between rounds),
 * so these keep one round of a server's training bounded: XGBoost itself
 * accepts `max_depth=1e6` or `num_parallel_tree=1000000` and builds trees
 * until memory runs out. The caps are far above what models use (XGBoost's
 * defaults: depth 6, 256 bins, 1 parallel tree).
 */
export const XGB_WORK_CAPS: Record<string, [min: number, max: number]> = {
  max_depth: [0, 32],
  max_leaves: [0, 65_536],
  max_bin: [2, 65_536],
  num_parallel_tree: [1, 1_000],
  num_class: [1, 10_000],
};

/** Trees one round may build (num_parallel_tree × num_class). */
export const XGB_MAX_TREES_PER_ROUND = 10_000;

/** Parameters whose value is a number: it must be finite (XGBoost takes "nan" and "inf" and trains a model of NaNs). */
const NUMERIC = new Set([
  "eta",
  "learning_rate",
  "gamma",
  "min_split_loss",
  "max_depth",
  "min_child_weight",
  "max_delta_step",
  "subsample",
  "colsample_bytree",
  "colsample_bylevel",
  "colsample_bynode",
  "lambda",
  "reg_lambda",
  "alpha",
  "reg_alpha",
  "scale_pos_weight",
  "max_leaves",
  "max_bin",
  "num_parallel_tree",
  "max_cat_to_onehot",
  "max_cat_threshold",
  "rate_drop",
  "skip_drop",
  "top_k",
  "base_score",
  "num_class",
  "tweedie_variance_power",
  "huber_slope",
  "quantile_alpha",
  "nthread",
  "seed",
  "random_state",
  "verbosity",
  "max_cached_hist_node",
  "lambdarank_num_pair_per_sample",
  "aft_loss_distribution_scale",
]);

/**
 * Checks parameter names and values, and stringifies values: numeric values
 * must be finite, and those that scale one round's work within XGB_WORK_CAPS.
 * @throws InvalidInputError naming an unknown, empty, non-finite or out-of-range parameter, or gblinear
 */
export function checkXgbParams(params: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(params)) {
    if (Object.hasOwn(XGBOOST_REMOVED_PARAMS, name)) throw new InvalidInputError(`parameters.${name}: ${XGBOOST_REMOVED_PARAMS[name]}`);
    if (!XGBOOST_PARAMS.has(name)) throw new InvalidInputError(`parameters.${name}: unknown XGBoost parameter`);
    const value = String(raw).trim();
    if (value === "") throw new InvalidInputError(`parameters.${name}: empty value`);
    if (name === "tree_method" && Object.hasOwn(REMOVED_TREE_METHODS, value))
      throw new InvalidInputError(`parameters.tree_method: ${value} was ${REMOVED_TREE_METHODS[value]}`);
    // The linked library is XGBoost's CPU build: a GPU device would only fall back to the CPU with a warning.
    if (name === "device" && value !== "cpu")
      throw new InvalidInputError(`parameters.device: this server trains on the CPU only (device=cpu), got ${JSON.stringify(value.slice(0, 40))}`);
    if (name === "booster" && value === "gblinear") throw new InvalidInputError(`parameters.booster: ${GBLINEAR_UNSERVABLE}`);
    if (NUMERIC.has(name)) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new InvalidInputError(`parameters.${name}: expected a finite number, got ${JSON.stringify(value.slice(0, 40))}`);
      const cap = XGB_WORK_CAPS[name];
      if (cap && (!Number.isInteger(n) || n < cap[0] || n > cap[1])) {
        throw new InvalidInputError(
          `parameters.${name}: expected an integer in [${cap[0]}, ${cap[1]}] (the server bounds the work of one boosting round), got ${value.slice(0, 40)}`,
        );
      }
    }
    out[name] = value;
  }
  const trees = Number(out.num_parallel_tree ?? 1) * Number(out.num_class ?? 1);
  if (trees > XGB_MAX_TREES_PER_ROUND) {
    throw new InvalidInputError(`parameters.num_parallel_tree × num_class: ${trees} trees per round, at most ${XGB_MAX_TREES_PER_ROUND}`);
  }
  return out;
}
