// Forest: see forest.h.
#include "forest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <thread>

namespace mlbridge {

const napi_type_tag Forest::kTag = {0x6d6c62726964676eULL, 0x65466f7265737431ULL};

namespace {

// Reads spec[key] as a typed array of type `type` (Node-API enum), with its length.
template <class T>
std::pair<const T*, size_t> SpecArray(Napi::Env env, Napi::Object spec, const char* key, napi_typedarray_type type,
                                      const char* expected) {
  Napi::Value v = spec.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    MLB_THROW(env, kInvalidArgument, std::string("spec.") + key + " must be " + expected);
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  return {a.Data(), a.ElementLength()};
}

int64_t SpecInteger(Napi::Env env, Napi::Object spec, const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = spec.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    MLB_THROW(
        env, kInvalidArgument,
        std::string("spec.") + key + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int64_t>(d);
}

// XGBoost's common::Sigmoid (src/common/math.h; the same in 1.7 and 3.2).
inline float Sigmoid(float x) {
  constexpr float kEps = 1e-16f;
  x = std::min(-x, 88.7f);
  const float denom = expf(x) + 1.0f + kEps;
  return 1.0f / denom;
}

// XGBoost's common::Softmax (a double sum of float exponentials; the same in 1.7 and 3.2).
inline void Softmax(float* v, size_t n) {
  float wmax = v[0];
  for (size_t i = 1; i < n; ++i) wmax = fmaxf(v[i], wmax);
  double wsum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    v[i] = expf(v[i] - wmax);
    wsum += v[i];
  }
  for (size_t i = 0; i < n; ++i) v[i] /= static_cast<float>(wsum);
}

struct ForestPredictOp {
  std::string err;
  const char* code = nullptr;
  Forest* forest = nullptr;
  std::vector<float> data;
  uint64_t rows = 0;
  uint64_t cols = 0;
  bool margin = false;
  int threads = 1;
  bool infinite = false;
  std::vector<float> out;

  void Execute() {
    if (forest->HasInfinity(data.data(), data.size())) {
      infinite = true;
      return;
    }
    out.resize(rows * forest->OutputsPerRow(margin));
    const uint64_t n = std::max<uint64_t>(1, std::min<uint64_t>(static_cast<uint64_t>(threads), rows / 4096));
    if (n == 1) {
      forest->PredictRows(data.data(), 0, rows, margin, out.data());
      return;
    }
    std::vector<std::thread> pool;
    const uint64_t per = (rows + n - 1) / n;
    for (uint64_t t = 1; t < n; ++t) {
      const uint64_t b = std::min(rows, t * per), e = std::min(rows, (t + 1) * per);
      pool.emplace_back([this, b, e] { forest->PredictRows(data.data(), b, e, margin, out.data()); });
    }
    forest->PredictRows(data.data(), 0, std::min(rows, per), margin, out.data());
    for (auto& th : pool) th.join();
  }

  Napi::Value Result(Napi::Env env) {
    if (infinite) return env.Null();
    Napi::Float32Array a = Napi::Float32Array::New(env, out.size());
    if (!out.empty()) std::memcpy(a.Data(), out.data(), out.size() * sizeof(float));
    return a;
  }
};

}  // namespace

Napi::Function Forest::Define(Napi::Env env) {
  return DefineClass(env, "Forest",
                     {
                         InstanceMethod<&Forest::Predict>("predict"),
                         InstanceMethod<&Forest::PredictAsync>("predictAsync"),
                         InstanceMethod("dispose", &Forest::Dispose),
                     });
}

Forest::Forest(const Napi::CallbackInfo& info) : Handle<Forest>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) MLB_THROW(env, kInvalidArgument, "Forest must be called with new");
  Napi::Object spec = ArgObject(info, 0, "spec");
  num_feature_ = static_cast<uint32_t>(SpecInteger(env, spec, "numFeature", 1, INT32_MAX));
  num_group_ = static_cast<uint32_t>(SpecInteger(env, spec, "numGroup", 1, 1 << 20));
  transform_ = static_cast<ForestTransform>(SpecInteger(env, spec, "transform", 0, 4));
  {
    // One base margin per output group (XGBoost 3.1+ keeps one intercept per class).
    auto [base, nbase] = SpecArray<float>(env, spec, "baseMargin", napi_float32_array, "a Float32Array");
    if (nbase != num_group_) MLB_THROW(env, kInvalidArgument, "spec.baseMargin must have numGroup entries");
    base_margin_.assign(base, base + nbase);
  }
  auto [starts, nstarts] = SpecArray<int32_t>(env, spec, "treeStart", napi_int32_array, "an Int32Array");
  auto [groups, ngroups] = SpecArray<int32_t>(env, spec, "treeGroup", napi_int32_array, "an Int32Array");
  auto [left, nleft] = SpecArray<int32_t>(env, spec, "left", napi_int32_array, "an Int32Array");
  auto [right, nright] = SpecArray<int32_t>(env, spec, "right", napi_int32_array, "an Int32Array");
  auto [split, nsplit] = SpecArray<int32_t>(env, spec, "split", napi_int32_array, "an Int32Array");
  auto [cond, ncond] = SpecArray<float>(env, spec, "cond", napi_float32_array, "a Float32Array");
  auto [dl, ndl] = SpecArray<uint8_t>(env, spec, "defaultLeft", napi_uint8_array, "a Uint8Array");
  const size_t trees = ngroups;
  if (nstarts != trees + 1) MLB_THROW(env, kInvalidArgument, "spec.treeStart must have numTrees + 1 entries");
  const size_t n = nleft;
  if (nright != n || nsplit != n || ncond != n || ndl != n)
    MLB_THROW(env, kInvalidArgument, "spec node arrays differ in length");
  if (n > static_cast<size_t>(INT32_MAX)) MLB_THROW(env, kInvalidArgument, "too many nodes");
  if (starts[0] != 0 || static_cast<size_t>(starts[trees]) != n)
    MLB_THROW(env, kInvalidArgument, "spec.treeStart must run from 0 to the node count");
  nodes_.reserve(n);
  roots_.resize(trees);
  groups_.resize(trees);
  depths_.resize(trees);
  std::vector<int32_t> order, placed, depth;
  for (size_t t = 0; t < trees; ++t) {
    const int64_t b = starts[t], e = starts[t + 1];
    const std::string where = "tree " + std::to_string(t);
    if (e <= b) MLB_THROW(env, kInvalidArgument, where + ": no nodes");
    if (groups[t] < 0 || static_cast<uint32_t>(groups[t]) >= num_group_)
      MLB_THROW(env, kInvalidArgument, where + ": group out of range");
    groups_[t] = groups[t];
    const int64_t size = e - b;
    for (int64_t k = 0; k < size; ++k) {
      const size_t i = static_cast<size_t>(b + k);
      if (left[i] == -1 && right[i] == -1) continue;
      // Children after their parent and inside the tree: every walk ends.
      if (left[i] <= k || right[i] <= k || left[i] >= size || right[i] >= size) {
        MLB_THROW(env, kInvalidArgument, where + " node " + std::to_string(k) + ": children out of range");
      }
      if (split[i] < 0 || static_cast<uint32_t>(split[i]) >= num_feature_) {
        MLB_THROW(env, kInvalidArgument, where + " node " + std::to_string(k) + ": split feature out of range");
      }
    }
    // Breadth-first from the root; nodes no walk reaches (XGBoost's deleted ones) are left out.
    order.assign(1, 0);
    placed.assign(static_cast<size_t>(size), -1);
    depth.assign(static_cast<size_t>(size), 0);
    placed[0] = 0;
    int32_t deepest = 0;
    for (size_t q = 0; q < order.size(); ++q) {
      const int32_t k = order[q];
      const size_t i = static_cast<size_t>(b + k);
      if (left[i] == -1) continue;
      for (const int32_t c : {left[i], right[i]}) {
        if (placed[c] != -1)
          MLB_THROW(env, kInvalidArgument, where + " node " + std::to_string(c) + ": reached from two parents");
        placed[c] = static_cast<int32_t>(order.size());
        depth[c] = depth[k] + 1;
        deepest = std::max(deepest, depth[c]);
        order.push_back(c);
      }
    }
    const int32_t base = static_cast<int32_t>(nodes_.size());
    roots_[t] = base;
    depths_[t] = deepest;
    for (size_t q = 0; q < order.size(); ++q) {
      const size_t i = static_cast<size_t>(b + order[q]);
      Node node{};
      if (left[i] == -1) {
        node.left = base + static_cast<int32_t>(q);
        node.cond = std::numeric_limits<float>::quiet_NaN();
        node.value = cond[i];
      } else {
        node.left = base + placed[left[i]];
        node.split = static_cast<uint32_t>(split[i]);
        node.cond = cond[i];
        node.default_right = dl[i] ? 0 : 1;
      }
      nodes_.push_back(node);
    }
  }
  info.This().As<Napi::Object>().TypeTag(&kTag);
}

void Forest::FreeNative() {
  std::vector<Node>().swap(nodes_);
  std::vector<int32_t>().swap(roots_);
  std::vector<int32_t>().swap(groups_);
  std::vector<int32_t>().swap(depths_);
}

size_t Forest::OutputsPerRow(bool margin) const {
  return !margin && transform_ == ForestTransform::kArgmax ? 1 : num_group_;
}

bool Forest::HasInfinity(const float* data, size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    if (std::isinf(data[i])) return true;
  }
  return false;
}

void Forest::PredictRows(const float* data, uint64_t begin, uint64_t end, bool margin, float* out) const {
  // kBlock rows walk each tree together, a fixed number of branch-free steps:
  // the walks are independent, so the core overlaps them, and no split
  // condition is a branch to mispredict (1M iris rows on one thread: 32 → 22-25 ms).
  // Each row adds its trees' leaves in tree order, as XGBoost does, so sums
  // stay bit-identical.
  constexpr uint64_t kBlock = 8;
  const size_t per = OutputsPerRow(margin);
  const size_t groups = num_group_;
  std::vector<float> accs(kBlock * groups);
  const Node* nodes = nodes_.data();
  const size_t trees = roots_.size();
  for (uint64_t r0 = begin; r0 < end; r0 += kBlock) {
    const uint64_t nb = std::min(kBlock, end - r0);
    const float* x = data + r0 * num_feature_;
    for (uint64_t b = 0; b < nb; ++b) std::copy(base_margin_.begin(), base_margin_.end(), accs.begin() + b * groups);
    for (size_t t = 0; t < trees; ++t) {
      int32_t at[kBlock];
      std::fill(at, at + kBlock, roots_[t]);
      for (int32_t d = depths_[t]; d > 0; --d) {
        for (uint64_t b = 0; b < kBlock; ++b) {
          // Rows past the end of a short last block walk row 0 of the block again.
          const float* row = x + (b < nb ? b : 0) * num_feature_;
          const Node& node = nodes[at[b]];
          const float v = row[node.split];
          // NaN: `v >= cond` is false, and default_right decides; a leaf's NaN condition keeps it in place.
          at[b] = node.left + static_cast<int32_t>(static_cast<uint32_t>(v >= node.cond) |
                                                   (static_cast<uint32_t>(std::isnan(v)) & node.default_right));
        }
      }
      const size_t g = static_cast<size_t>(groups_[t]);
      for (uint64_t b = 0; b < nb; ++b) accs[b * groups + g] += nodes[at[b]].value;
    }
    for (uint64_t b = 0; b < nb; ++b) {
      const float* acc = accs.data() + b * groups;
      float* o = out + (r0 + b) * per;
      if (margin || transform_ == ForestTransform::kIdentity) {
        std::copy(acc, acc + groups, o);
      } else if (transform_ == ForestTransform::kSigmoid) {
        for (size_t k = 0; k < groups; ++k) o[k] = Sigmoid(acc[k]);
      } else if (transform_ == ForestTransform::kExp) {
        for (size_t k = 0; k < groups; ++k) o[k] = expf(acc[k]);
      } else if (transform_ == ForestTransform::kSoftmax) {
        std::copy(acc, acc + groups, o);
        Softmax(o, groups);
      } else {  // kArgmax: XGBoost's FindMaxIndex (the first maximum)
        size_t best = 0;
        for (size_t k = 1; k < groups; ++k) {
          if (acc[k] > acc[best]) best = k;
        }
        o[0] = static_cast<float>(best);
      }
    }
  }
}

Napi::Value Forest::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Forest");
  const FloatArg data = ArgFloats(info, 0, "data");
  const uint64_t rows = static_cast<uint64_t>(ArgInteger(info, 1, "rows", 0, INT32_MAX));
  const uint64_t cols = static_cast<uint64_t>(ArgInteger(info, 2, "cols", 1, INT32_MAX));
  const bool margin = ArgBool(info, 3, "margin");
  if (cols != num_feature_)
    MLB_THROW(env, kInvalidArgument, "cols must be the model's " + std::to_string(num_feature_) + " features");
  if (data.count != rows * cols) MLB_THROW(env, kInvalidArgument, "data must hold rows × cols values");
  std::vector<float> scratch;
  const float* values = data.Read(scratch);
  if (HasInfinity(values, data.count)) return env.Null();
  Napi::Float32Array out = Napi::Float32Array::New(env, rows * OutputsPerRow(margin));
  PredictRows(values, 0, rows, margin, out.Data());
  return out;
}

Napi::Value Forest::PredictAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Forest");
  const FloatArg data = ArgFloats(info, 0, "data");
  ForestPredictOp op;
  op.forest = this;
  op.rows = static_cast<uint64_t>(ArgInteger(info, 1, "rows", 0, INT32_MAX));
  op.cols = static_cast<uint64_t>(ArgInteger(info, 2, "cols", 1, INT32_MAX));
  op.margin = ArgBool(info, 3, "margin");
  op.threads = static_cast<int>(ArgInteger(info, 4, "threads", 1, 64));
  if (op.cols != num_feature_)
    MLB_THROW(env, kInvalidArgument, "cols must be the model's " + std::to_string(num_feature_) + " features");
  if (data.count != op.rows * op.cols) MLB_THROW(env, kInvalidArgument, "data must hold rows × cols values");
  // The worker reads its own copy: the caller's buffer may change or be
  // detached while it runs. One copy, from Float32Array or bytes alike.
  data.CopyTo(op.data);
  return PromiseWorker<ForestPredictOp>::Start(env, "mlbridge.Forest.predictAsync", std::move(op), {this});
}

void InitForest(Napi::Env env, Napi::Object exports) { exports.Set("Forest", Forest::Define(env)); }

}  // namespace mlbridge
