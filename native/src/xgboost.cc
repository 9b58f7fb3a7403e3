// XGBoost bindings. See xgboost.h for the contract of every method.
#include "xgboost.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mlbridge {

// Type tags (random 128-bit values) that identify our objects.
const napi_type_tag DMatrix::kTag = {0x6d6c6272696467ULL, 0x65446d6174726978ULL};
const napi_type_tag Booster::kTag = {0x6d6c6272696467ULL, 0x65426f6f73746572ULL};

// A thread that runs the cache-using XGBoost calls of one booster (see
// xgboost.h, "Home thread"). Run() hands a call over and waits for it; callers
// are already serialised by the booster mutex. The callable must not throw.
class HomeThread {
 public:
  HomeThread() : thread_([this] { Loop(); }) {}
  ~HomeThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  HomeThread(const HomeThread&) = delete;
  HomeThread& operator=(const HomeThread&) = delete;

  void Run(const std::function<void()>& fn) {
    std::promise<void> done;
    std::future<void> finished = done.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back([&fn, &done] {
        try {
          fn();
        } catch (...) {
          // fn reports its own failures; nothing may escape the thread.
        }
        done.set_value();
      });
    }
    cv_.notify_one();
    finished.wait();
  }

 private:
  void Loop() {
    EnsureXgboostLogCallback();
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members above exist
};

namespace {

// Largest row or column count accepted (XGBoost's bst_ulong is 64-bit, but
// JS arrays are limited far below this anyway).
constexpr int64_t kMaxDim = int64_t{1} << 40;

std::atomic<bool> g_xgb_verbose{false};

void XgboostLog(const char* msg) {
  if (g_xgb_verbose.load(std::memory_order_relaxed)) std::fprintf(stderr, "[xgboost] %s\n", msg);
}

// XGBGetLastError() as a string; call on the thread that made the failing call.
std::string LastXgbError() {
  const char* e = XGBGetLastError();
  return (e && *e) ? std::string(e) : std::string("XGBoost call failed (no message)");
}

// Sync: throws XGBOOST_ERROR when an XGBoost call fails.
#define XGB_CALL(env, call)                                                       \
  do {                                                                            \
    if ((call) != 0) MLB_THROW((env), ::mlbridge::kXgboostError, LastXgbError()); \
  } while (0)

struct PredictOptions {
  int type = 0;
  int64_t iteration_begin = 0;
  int64_t iteration_end = 0;
  bool strict_shape = false;
  double missing = NAN;
};

// A JSON number (XGBoost's JSON reader accepts NaN and Infinity / -Infinity).
std::string JsonNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(static_cast<float>(v)));
  return buf;
}

std::string PredictConfig(const PredictOptions& o) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"type\":%d,\"training\":false,\"iteration_begin\":%" PRId64 ",\"iteration_end\":%" PRId64
                ",\"strict_shape\":%s,\"cache_id\":0,\"missing\":",
                o.type, o.iteration_begin, o.iteration_end, o.strict_shape ? "true" : "false");
  return std::string(buf) + JsonNumber(o.missing) + "}";
}

// __array_interface__ (version 3) of a row-major float32 matrix.
std::string ArrayInterface(const float* data, uint64_t rows, uint64_t cols) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"data\":[%" PRIuPTR ",true],\"shape\":[%" PRIu64 ",%" PRIu64 "],\"typestr\":\"<f4\",\"version\":3}",
                reinterpret_cast<uintptr_t>(data), rows, cols);
  return buf;
}

PredictOptions ParsePredictOptions(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  Napi::Object o = ArgObject(info, i, "options");
  PredictOptions out;
  auto bad = [&](const char* what) { MLB_THROW(env, kInvalidArgument, std::string("options.") + what); };
  auto integer = [&](const char* key, int64_t lo, int64_t hi, const char* what) -> int64_t {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) bad(what);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::trunc(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi))
      bad(what);
    return static_cast<int64_t>(d);
  };
  out.type = static_cast<int>(integer("type", 0, 1, "type must be 0 or 1"));
  out.iteration_begin = integer("iterationBegin", 0, INT32_MAX, "iterationBegin must be an integer >= 0");
  out.iteration_end = integer("iterationEnd", 0, INT32_MAX, "iterationEnd must be an integer >= 0");
  Napi::Value strict = o.Get("strictShape");
  if (!strict.IsBoolean()) bad("strictShape must be a boolean");
  out.strict_shape = strict.As<Napi::Boolean>().Value();
  Napi::Value missing = o.Get("missing");
  if (missing.IsUndefined()) {
    out.missing = NAN;
  } else if (missing.IsNumber()) {
    out.missing = missing.As<Napi::Number>().DoubleValue();
  } else {
    bad("missing must be a number");
  }
  return out;
}

// Checks (data, rows, cols) of a dense matrix argument; returns rows and cols.
std::pair<uint64_t, uint64_t> CheckDense(const Napi::CallbackInfo& info, size_t count) {
  const int64_t rows = ArgInteger(info, 1, "rows", 1, kMaxDim);
  const int64_t cols = ArgInteger(info, 2, "cols", 1, INT32_MAX);
  const uint64_t n = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  if (count != n) {
    MLB_THROW(info.Env(), kInvalidArgument,
              "argument 1 (data) must hold rows*cols = " + std::to_string(n) + " values, got " + std::to_string(count));
  }
  return {static_cast<uint64_t>(rows), static_cast<uint64_t>(cols)};
}

uint64_t ShapeSize(const bst_ulong* shape, bst_ulong dim) {
  if (dim == 0) return 0;
  uint64_t n = 1;
  for (bst_ulong k = 0; k < dim; ++k) n *= shape[k];
  return n;
}

Napi::Object PredictionObject(Napi::Env env, const std::vector<uint64_t>& shape, Napi::Float32Array values) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array s = Napi::Array::New(env, shape.size());
  for (size_t k = 0; k < shape.size(); ++k)
    s.Set(static_cast<uint32_t>(k), Napi::Number::New(env, static_cast<double>(shape[k])));
  out.Set("shape", s);
  out.Set("values", values);
  return out;
}

// ----- async operations (plain structs, see PromiseWorker in common.h) -----

struct UpdateOp {
  Booster* booster = nullptr;
  DMatrix* dtrain = nullptr;
  int iteration = 0;
  std::string err;
  const char* code = kXgboostError;

  void Execute() {
    std::lock_guard<std::mutex> lb(booster->mutex());
    std::lock_guard<std::mutex> ld(dtrain->mutex());
    booster->home().Run([this] {
      if (XGBoosterUpdateOneIter(booster->handle(), iteration, dtrain->handle()) != 0) err = LastXgbError();
    });
  }

  Napi::Value Result(Napi::Env env) { return env.Undefined(); }
};

struct PredictOp {
  Booster* booster = nullptr;
  std::vector<float> data;  // copied from JS on the main thread
  uint64_t rows = 0;
  uint64_t cols = 0;
  PredictOptions options;
  std::vector<uint64_t> shape;
  std::vector<float> values;
  std::string err;
  const char* code = kXgboostError;

  void Execute() {
    const std::string arr = ArrayInterface(data.data(), rows, cols);
    const std::string cfg = PredictConfig(options);
    std::lock_guard<std::mutex> lock(booster->mutex());
    DMatrixHandle proxy = booster->proxy();
    booster->home().Run([&] {
      const bst_ulong* out_shape = nullptr;
      bst_ulong out_dim = 0;
      const float* out = nullptr;
      if (XGBoosterPredictFromDense(booster->handle(), arr.c_str(), cfg.c_str(), proxy, &out_shape, &out_dim, &out) !=
          0) {
        err = LastXgbError();
        return;
      }
      // Copy out of XGBoost's thread-local buffer before leaving the thread and the lock.
      try {
        shape.assign(out_shape, out_shape + out_dim);
        values.assign(out, out + ShapeSize(out_shape, out_dim));
      } catch (const std::exception& e) {
        err = std::string("internal error: ") + e.what();
      }
    });
  }

  Napi::Value Result(Napi::Env env) {
    Napi::Float32Array v = Napi::Float32Array::New(env, values.size());
    if (!values.empty()) std::memcpy(v.Data(), values.data(), values.size() * sizeof(float));
    return PredictionObject(env, shape, v);
  }
};

}  // namespace

// ---------------------------------------------------------------------------

void EnsureXgboostLogCallback() {
  thread_local bool registered = false;
  if (!registered) {
    XGBRegisterLogCallback(&XgboostLog);
    registered = true;
  }
}

std::string XgboostVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

void InitXgboost(Napi::Env env, Napi::Object exports) {
  const char* verbose = std::getenv("MLBRIDGE_XGBOOST_VERBOSE");
  g_xgb_verbose.store(verbose != nullptr && *verbose != '\0' && std::strcmp(verbose, "0") != 0);
  EnsureXgboostLogCallback();
  exports.Set("DMatrix", DMatrix::Define(env));
  exports.Set("Booster", Booster::Define(env));
}

// ----- DMatrix -------------------------------------------------------------

Napi::Function DMatrix::Define(Napi::Env env) {
  return DefineClass(env, "DMatrix",
                     {
                         InstanceMethod<&DMatrix::SetLabels>("setLabels"),
                         InstanceMethod<&DMatrix::SetWeights>("setWeights"),
                         InstanceMethod<&DMatrix::SetFeatureNames>("setFeatureNames"),
                         InstanceMethod<&DMatrix::NumRows>("numRows"),
                         InstanceMethod<&DMatrix::NumCols>("numCols"),
                         InstanceMethod("dispose", &DMatrix::Dispose),
                     });
}

DMatrix::DMatrix(const Napi::CallbackInfo& info) : Handle<DMatrix>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) MLB_THROW(env, kInvalidArgument, "DMatrix must be called with new");
  Napi::Float32Array data = ArgFloat32Array(info, 0, "data");
  auto [rows, cols] = CheckDense(info, data.ElementLength());
  const double missing = ArgNumber(info, 3, "missing");
  XGB_CALL(env, XGDMatrixCreateFromMat(data.Data(), rows, cols, static_cast<float>(missing), &handle_));
  rows_ = rows;
  cols_ = cols;
  info.This().As<Napi::Object>().TypeTag(&kTag);
}

DMatrix::~DMatrix() {
  if (active_ == 0) FreeNative();  // else: env teardown with a worker in flight; leak rather than race
}

void DMatrix::FreeNative() {
  if (handle_ != nullptr) {
    XGDMatrixFree(handle_);
    handle_ = nullptr;
  }
}

Napi::Value DMatrix::SetFloatInfo(const Napi::CallbackInfo& info, const char* field, const char* argname) {
  Napi::Env env = info.Env();
  CheckLive(env, "DMatrix");
  Napi::Float32Array a = ArgFloat32Array(info, 0, argname);
  if (a.ElementLength() != rows_) {
    MLB_THROW(env, kInvalidArgument,
              std::string("argument 1 (") + argname + ") must hold numRows() = " + std::to_string(rows_) +
                  " values, got " + std::to_string(a.ElementLength()));
  }
  if (busy()) MLB_THROW(env, kBusy, "DMatrix is in use by a running operation");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGDMatrixSetFloatInfo(handle_, field, a.Data(), a.ElementLength()));
  return env.Undefined();
}

Napi::Value DMatrix::SetLabels(const Napi::CallbackInfo& info) { return SetFloatInfo(info, "label", "labels"); }

Napi::Value DMatrix::SetWeights(const Napi::CallbackInfo& info) { return SetFloatInfo(info, "weight", "weights"); }

Napi::Value DMatrix::SetFeatureNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "DMatrix");
  std::vector<std::string> names = ArgStringArray(info, 0, "names");
  if (names.size() != cols_) {
    MLB_THROW(env, kInvalidArgument,
              "argument 1 (names) must hold numCols() = " + std::to_string(cols_) + " names, got " +
                  std::to_string(names.size()));
  }
  if (busy()) MLB_THROW(env, kBusy, "DMatrix is in use by a running operation");
  std::vector<const char*> c;
  c.reserve(names.size());
  for (const auto& s : names) c.push_back(s.c_str());
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGDMatrixSetStrFeatureInfo(handle_, "feature_name", c.data(), c.size()));
  return env.Undefined();
}

Napi::Value DMatrix::NumRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "DMatrix");
  bst_ulong n = 0;
  XGB_CALL(env, XGDMatrixNumRow(handle_, &n));
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value DMatrix::NumCols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "DMatrix");
  bst_ulong n = 0;
  XGB_CALL(env, XGDMatrixNumCol(handle_, &n));
  return Napi::Number::New(env, static_cast<double>(n));
}

// ----- Booster -------------------------------------------------------------

namespace {

// Unwraps a live DMatrix argument (or array element).
DMatrix* UnwrapDMatrix(Napi::Env env, Napi::Value v, const std::string& label) {
  DMatrix* m = UnwrapTagged<DMatrix>(env, v, &DMatrix::kTag, label, "a DMatrix");
  m->CheckLiveFor(env);
  return m;
}

std::vector<DMatrix*> ArgDMatrixArray(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Array a = ArgArray(info, i, name);
  std::vector<DMatrix*> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    out.push_back(UnwrapDMatrix(info.Env(), a.Get(k), ArgLabel(i, name) + "[" + std::to_string(k) + "]"));
  }
  return out;
}

}  // namespace

Napi::Function Booster::Define(Napi::Env env) {
  return DefineClass(env, "Booster",
                     {
                         InstanceMethod<&Booster::SetParam>("setParam"),
                         InstanceMethod<&Booster::UpdateOneIter>("updateOneIter"),
                         InstanceMethod<&Booster::EvalOneIter>("evalOneIter"),
                         InstanceMethod<&Booster::PredictDense>("predictDense"),
                         InstanceMethod<&Booster::PredictDenseAsync>("predictDenseAsync"),
                         InstanceMethod<&Booster::SaveModel>("saveModel"),
                         InstanceMethod<&Booster::LoadModel>("loadModel"),
                         InstanceMethod<&Booster::SaveModelToBuffer>("saveModelToBuffer"),
                         InstanceMethod<&Booster::LoadModelFromBuffer>("loadModelFromBuffer"),
                         InstanceMethod<&Booster::SaveConfig>("saveConfig"),
                         InstanceMethod<&Booster::LoadConfig>("loadConfig"),
                         InstanceMethod<&Booster::GetFeatureNames>("getFeatureNames"),
                         InstanceMethod<&Booster::SetFeatureNames>("setFeatureNames"),
                         InstanceMethod<&Booster::NumFeatures>("numFeatures"),
                         InstanceMethod<&Booster::BoostedRounds>("boostedRounds"),
                         InstanceMethod<&Booster::GetAttr>("getAttr"),
                         InstanceMethod<&Booster::SetAttr>("setAttr"),
                         InstanceMethod("dispose", &Booster::Dispose),
                     });
}

Booster::Booster(const Napi::CallbackInfo& info) : Handle<Booster>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) MLB_THROW(env, kInvalidArgument, "Booster must be called with new");
  std::vector<DMatrix*> mats = ArgDMatrixArray(info, 0, "dmats");
  std::vector<DMatrixHandle> handles;
  handles.reserve(mats.size());
  for (DMatrix* m : mats) handles.push_back(m->handle());
  uint64_t num_feature = 0;
  for (DMatrix* m : mats) {
    bst_ulong c = 0;
    XGB_CALL(env, XGDMatrixNumCol(m->handle(), &c));
    num_feature = std::max<uint64_t>(num_feature, c);
  }
  XGB_CALL(env, XGBoosterCreate(handles.data(), handles.size(), &handle_));
  // Pin XGBoost to one thread per call: predictions are mostly single rows,
  // where OpenMP fan-out costs far more than it saves (dmlc/xgboost#3042).
  int rc = XGBoosterSetParam(handle_, "nthread", "1");
  // Spell out what XGBoost would infer from the creating thread's cache: the
  // booster is trained on its home thread, which does not have that cache.
  if (rc == 0 && num_feature > 0) rc = XGBoosterSetParam(handle_, "num_feature", std::to_string(num_feature).c_str());
  if (rc != 0) {
    std::string e = LastXgbError();
    FreeNative();
    MLB_THROW(env, kXgboostError, e);
  }
  info.This().As<Napi::Object>().TypeTag(&kTag);
}

Booster::~Booster() {
  if (active_ == 0) {
    FreeNative();
  } else {
    // Env teardown with a worker in flight: leak rather than race (and never
    // join a thread that may be busy).
    (void)home_.release();
  }
}

HomeThread& Booster::home() {
  if (!home_) home_ = std::make_unique<HomeThread>();
  return *home_;
}

void Booster::FreeNative() {
  // Join the home thread first: its XGBoost thread-local stores (prediction
  // cache, result buffers) are destroyed with it. Then free on this thread,
  // which erases this thread's entries for the learner.
  home_.reset();
  if (proxy_ != nullptr) {
    XGDMatrixFree(proxy_);
    proxy_ = nullptr;
  }
  if (handle_ != nullptr) {
    XGBoosterFree(handle_);
    handle_ = nullptr;
  }
}

DMatrixHandle Booster::proxy() {
  if (proxy_ == nullptr && XGProxyDMatrixCreate(&proxy_) != 0) proxy_ = nullptr;
  return proxy_;
}

Napi::Value Booster::SetParam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string name = ArgString(info, 0, "name");
  std::string value = ArgString(info, 1, "value");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterSetParam(handle_, name.c_str(), value.c_str()));
  return env.Undefined();
}

Napi::Value Booster::UpdateOneIter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  UpdateOp op;
  op.booster = this;
  op.iteration = static_cast<int>(ArgInteger(info, 0, "iteration", 0, INT32_MAX));
  op.dtrain = UnwrapDMatrix(env, info.Length() > 1 ? info[1] : env.Undefined(), ArgLabel(1, "dtrain"));
  DMatrix* dtrain = op.dtrain;
  return PromiseWorker<UpdateOp>::Start(env, "mlbridge.Booster.updateOneIter", std::move(op), {this, dtrain});
}

Napi::Value Booster::EvalOneIter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  const int iteration = static_cast<int>(ArgInteger(info, 0, "iteration", 0, INT32_MAX));
  std::vector<DMatrix*> mats = ArgDMatrixArray(info, 1, "dmats");
  std::vector<std::string> names = ArgStringArray(info, 2, "names");
  if (names.size() != mats.size()) MLB_THROW(env, kInvalidArgument, "dmats and names must have the same length");
  std::vector<DMatrixHandle> handles;
  std::vector<const char*> cnames;
  for (size_t k = 0; k < mats.size(); ++k) {
    handles.push_back(mats[k]->handle());
    cnames.push_back(names[k].c_str());
  }
  // Lock order: booster, then each distinct matrix by address.
  std::vector<DMatrix*> order(mats);
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(order.size());
  for (DMatrix* m : order) locks.emplace_back(m->mutex());
  int rc = 0;
  std::string result;
  home().Run([&] {
    const char* out = nullptr;
    rc = XGBoosterEvalOneIter(handle_, iteration, handles.data(), cnames.data(), handles.size(), &out);
    try {
      result = rc != 0 ? LastXgbError() : std::string(out ? out : "");
    } catch (...) {
      rc = -1;
    }
  });
  if (rc != 0) MLB_THROW(env, kXgboostError, result.empty() ? std::string("XGBoost call failed") : result);
  return Napi::String::New(env, result);
}

Napi::Value Booster::PredictDense(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  const FloatArg data = ArgFloats(info, 0, "data");
  auto [rows, cols] = CheckDense(info, data.count);
  const PredictOptions options = ParsePredictOptions(info, 3);
  std::vector<float> scratch;
  const std::string arr = ArrayInterface(data.Read(scratch), rows, cols);
  const std::string cfg = PredictConfig(options);

  std::lock_guard<std::mutex> lock(mu_);
  const bst_ulong* out_shape = nullptr;
  bst_ulong out_dim = 0;
  const float* out = nullptr;
  XGB_CALL(env, XGBoosterPredictFromDense(handle_, arr.c_str(), cfg.c_str(), proxy(), &out_shape, &out_dim, &out));
  // Copy out of XGBoost's (thread-local) buffer while the booster is locked.
  std::vector<uint64_t> shape(out_shape, out_shape + out_dim);
  const uint64_t n = ShapeSize(out_shape, out_dim);
  Napi::Float32Array values = Napi::Float32Array::New(env, n);
  if (n) std::memcpy(values.Data(), out, n * sizeof(float));
  return PredictionObject(env, shape, values);
}

Napi::Value Booster::PredictDenseAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  const FloatArg data = ArgFloats(info, 0, "data");
  auto [rows, cols] = CheckDense(info, data.count);
  PredictOp op;
  op.booster = this;
  op.options = ParsePredictOptions(info, 3);
  op.rows = rows;
  op.cols = cols;
  data.CopyTo(op.data);
  return PromiseWorker<PredictOp>::Start(env, "mlbridge.Booster.predictDenseAsync", std::move(op), {this});
}

Napi::Value Booster::SaveModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string file = ArgString(info, 0, "file");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterSaveModel(handle_, file.c_str()));
  return env.Undefined();
}

Napi::Value Booster::LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string file = ArgString(info, 0, "file");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterLoadModel(handle_, file.c_str()));
  return env.Undefined();
}

Napi::Value Booster::SaveModelToBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string format = ArgString(info, 0, "format");
  if (format != "json" && format != "ubj")
    MLB_THROW(env, kInvalidArgument, "argument 1 (format) must be \"json\" or \"ubj\"");
  const std::string config = "{\"format\":\"" + format + "\"}";
  std::lock_guard<std::mutex> lock(mu_);
  bst_ulong len = 0;
  const char* out = nullptr;
  XGB_CALL(env, XGBoosterSaveModelToBuffer(handle_, config.c_str(), &len, &out));
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(out), len);
}

Napi::Value Booster::LoadModelFromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  auto [data, len] = ArgBytes(info, 0, "data");
  if (len == 0) MLB_THROW(env, kInvalidArgument, "argument 1 (data) must be a non-empty Buffer");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterLoadModelFromBuffer(handle_, data, len));
  return env.Undefined();
}

Napi::Value Booster::SaveConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::lock_guard<std::mutex> lock(mu_);
  bst_ulong len = 0;
  const char* out = nullptr;
  XGB_CALL(env, XGBoosterSaveJsonConfig(handle_, &len, &out));
  return Napi::String::New(env, out, len);
}

Napi::Value Booster::LoadConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string json = ArgString(info, 0, "json");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterLoadJsonConfig(handle_, json.c_str()));
  return env.Undefined();
}

Napi::Value Booster::GetFeatureNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::lock_guard<std::mutex> lock(mu_);
  bst_ulong len = 0;
  const char** names = nullptr;
  XGB_CALL(env, XGBoosterGetStrFeatureInfo(handle_, "feature_name", &len, &names));
  Napi::Array out = Napi::Array::New(env, len);
  for (bst_ulong k = 0; k < len; ++k) out.Set(static_cast<uint32_t>(k), Napi::String::New(env, names[k]));
  return out;
}

Napi::Value Booster::SetFeatureNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::vector<std::string> names = ArgStringArray(info, 0, "names");
  std::vector<const char*> c;
  c.reserve(names.size());
  for (const auto& s : names) c.push_back(s.c_str());
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterSetStrFeatureInfo(handle_, "feature_name", c.data(), c.size()));
  return env.Undefined();
}

Napi::Value Booster::NumFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::lock_guard<std::mutex> lock(mu_);
  bst_ulong n = 0;
  XGB_CALL(env, XGBoosterGetNumFeature(handle_, &n));
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Booster::BoostedRounds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  XGB_CALL(env, XGBoosterBoostedRounds(handle_, &n));
  return Napi::Number::New(env, n);
}

Napi::Value Booster::GetAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string name = ArgString(info, 0, "name");
  std::lock_guard<std::mutex> lock(mu_);
  const char* out = nullptr;
  int success = 0;
  XGB_CALL(env, XGBoosterGetAttr(handle_, name.c_str(), &out, &success));
  if (!success || out == nullptr) return env.Null();
  return Napi::String::New(env, out);
}

Napi::Value Booster::SetAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "Booster");
  std::string name = ArgString(info, 0, "name");
  bool remove = info.Length() < 2 || info[1].IsNull() || info[1].IsUndefined();
  std::string value = remove ? std::string() : ArgString(info, 1, "value");
  std::lock_guard<std::mutex> lock(mu_);
  XGB_CALL(env, XGBoosterSetAttr(handle_, name.c_str(), remove ? nullptr : value.c_str()));
  return env.Undefined();
}

}  // namespace mlbridge
