// Forest: a compiled copy of an XGBoost gbtree model's trees, for prediction
// without XGBoost's C API.
//
// Why: a single-row XGBoosterPredictFromDense costs ~25-45 µs inside a busy
// server (two JSON documents parsed per call, a proxy DMatrix, per-call vectors
// of feature vectors, virtual dispatch), while walking the iris model's trees
// takes well under 1 µs. This class holds the trees as flat nodes and walks them
// exactly as XGBoost 3.2's CPU predictor does (float accumulation per output
// group in tree order from the base margin; NaN goes the default direction;
// `value < split_condition` goes left), then applies the objective's transform.
// It is only used for models whose outputs packages/core has checked to be
// bit-identical to XGBoost's on probe rows (see core/src/xgboost/forest.ts);
// anything else (dart, gblinear, categorical splits, other objectives, inputs
// with infinities) stays on XGBoost.
//
// All nodes are validated at construction (children inside their tree and after
// their parent, split features < numFeature), so a walk always terminates and
// never reads out of bounds, whatever the arrays hold.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "common.h"

namespace mlbridge {

// [sync] Registers exports.Forest.
void InitForest(Napi::Env env, Napi::Object exports);

// How margins become outputs (the objective's PredTransform).
enum class ForestTransform : int32_t {
  kIdentity = 0,  // reg:squarederror, binary:logitraw, rank:*, ...
  kSigmoid = 1,   // binary:logistic, reg:logistic
  kSoftmax = 2,   // multi:softprob
  kArgmax = 3,    // multi:softmax (the class index, as a float)
  kExp = 4,       // count:poisson, reg:gamma, reg:tweedie
};

class Forest final : public Handle<Forest> {
 public:
  static Napi::Function Define(Napi::Env env);
  static const napi_type_tag kTag;

  // [sync] new Forest({numFeature, numGroup, baseMargin: Float32Array(numGroup), transform, treeStart:
  //   Int32Array(numTrees + 1), treeGroup: Int32Array(numTrees), left, right,
  //   split: Int32Array(nodes), cond: Float32Array(nodes), defaultLeft:
  //   Uint8Array(nodes)}) — children are indices within their tree, -1/-1 for
  //   a leaf, whose value is `cond`. Throws INVALID_ARGUMENT naming the tree
  //   and node of any inconsistency.
  explicit Forest(const Napi::CallbackInfo& info);

  // [sync] predict(data: Float32Array, rows, cols, margin: boolean):
  //   Float32Array | null — rows × outputsPerRow values; null when the input
  //   holds an infinity (the caller then asks XGBoost, which decides).
  //   Throws INVALID_ARGUMENT (sizes, cols != numFeature), DISPOSED.
  Napi::Value Predict(const Napi::CallbackInfo& info);
  // [async] predictAsync(data, rows, cols, margin, threads): Promise<Float32Array | null>
  //   Same, on the libuv pool, rows split over `threads` threads (1..64).
  //   The input is copied first.
  Napi::Value PredictAsync(const Napi::CallbackInfo& info);

  void FreeNative();

  // C++ only (any thread, while a lease is held): the walk itself.
  size_t OutputsPerRow(bool margin) const;
  bool HasInfinity(const float* data, size_t n) const;
  void PredictRows(const float* data, uint64_t begin, uint64_t end, bool margin, float* out) const;

 private:
  // Each tree is laid out breadth-first with the two children of a node side by
  // side, so that one step is `at = left + go_right` with no branch to mispredict
  // (split conditions on real data go either way). A leaf points to itself with
  // a NaN condition and default_right 0, so extra steps stay on it: a block of
  // rows walks a tree in lockstep for the tree's depth.
  struct Node {
    int32_t left;            // global index of the left child (the right one is next); a leaf: itself
    uint32_t split;          // feature index
    float cond;              // split condition; NaN in a leaf
    uint32_t default_right;  // 1 if a missing value goes right
    float value;             // leaf value
  };
  std::vector<Node> nodes_;
  std::vector<int32_t> roots_;   // per tree: global index of the root
  std::vector<int32_t> groups_;  // per tree: output group
  std::vector<int32_t> depths_;  // per tree: steps from the root to its deepest leaf
  uint32_t num_feature_ = 0;
  uint32_t num_group_ = 1;
  std::vector<float> base_margin_;  // per output group
  ForestTransform transform_ = ForestTransform::kIdentity;
};

}  // namespace mlbridge
