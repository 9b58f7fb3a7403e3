// XGBoost bindings: DMatrix and Booster (libxgboost 3.2.0, C API).
//
// Conventions (see common.h): every failing XGBoost call becomes an Error with
// code XGBOOST_ERROR and XGBGetLastError() as its message (read on the thread
// that made the call); bad arguments -> INVALID_ARGUMENT; any method of a
// disposed handle -> DISPOSED. Async methods return promises that reject with
// the same codes; they never throw after the promise is created.
//
// Threading: one std::mutex per Booster serialises every call on the booster
// handle (predict, update, eval, save, load, params...), whether made by a sync
// method or by a worker. One std::mutex per DMatrix serialises the workers and
// sync calls that read it (lock order: booster, then matrices by address).
// Mutating a DMatrix (labels, weights, names) while a worker uses it -> BUSY.
//
// Home thread: XGBoost keeps a booster's training prediction cache per thread
// (3.2: the Learner's PredictionContainer, a DMatrixCache keyed by DMatrix *and*
// std::this_thread::get_id(), include/xgboost/cache.h) and the C API's result
// buffers per thread too (a thread_local map keyed by the Learner's address,
// whose entries a Learner's destructor erases only on the thread that frees it,
// src/learner.cc). Calls made from libuv pool threads would therefore (a) not
// see the cache built on another thread (each round on a new thread predicts
// the training matrix with every tree again; with XGBoost 1.7 it also broke the
// num_feature inference: "0 feature is supplied"), and (b) leave result
// buffers behind on every pool thread. (In 1.7 the prediction cache itself was
// thread-local and outlived the Learner, so a later Learner at the same address
// picked up stale predictions; since 2.0 the Learner owns it, which fixed that
// part.) So every call that uses those caches (updateOneIter, evalOneIter,
// predictDenseAsync) runs on one dedicated thread per booster, started on first
// use; the worker (pool thread) or the sync method just hands the call over and
// waits. dispose() joins the thread (its thread-local stores die with it) and
// then frees the booster on the main thread. The sync fast paths (predictDense,
// getters/setters) run on the main thread directly.
#pragma once

#include <napi.h>
#include <xgboost/c_api.h>

#include <memory>
#include <mutex>
#include <string>

#include "common.h"

namespace mlbridge {

// [sync] Registers exports.DMatrix, exports.Booster and the XGBoost log
// callback: XGBoost messages are dropped unless MLBRIDGE_XGBOOST_VERBOSE is set
// (to anything but "" or "0"), in which case they go to stderr, never stdout.
// Throws on registration failure.
void InitXgboost(Napi::Env env, Napi::Object exports);

// [sync] "major.minor.patch" of the linked libxgboost.
std::string XgboostVersion();

// [sync] Registers XGBoost's log callback for the calling thread (XGBoost keeps
// it thread-local). Cheap; called at the top of every worker's Execute.
void EnsureXgboostLogCallback();

class HomeThread;

class DMatrix final : public Handle<DMatrix> {
 public:
  // [sync] The JS class (constructor with its methods). Throws on Node-API failure.
  static Napi::Function Define(Napi::Env env);
  // Type tag set on every instance; checked before unwrapping an argument.
  static const napi_type_tag kTag;

  // [sync] new DMatrix(data: Float32Array, rows, cols, missing)
  //   Copies rows*cols row-major floats (XGDMatrixCreateFromMat).
  //   Throws INVALID_ARGUMENT (sizes), XGBOOST_ERROR.
  explicit DMatrix(const Napi::CallbackInfo& info);
  // [sync, finalizer] Frees the native object (if a worker still holds it at
  //   environment teardown, leaks it rather than racing the worker).
  ~DMatrix() override;

  // [sync] setLabels(labels: Float32Array): void — length must be numRows().
  //   Throws INVALID_ARGUMENT, BUSY, DISPOSED, XGBOOST_ERROR.
  Napi::Value SetLabels(const Napi::CallbackInfo& info);
  // [sync] setWeights(weights: Float32Array): void — length must be numRows().
  //   Throws INVALID_ARGUMENT, BUSY, DISPOSED, XGBOOST_ERROR.
  Napi::Value SetWeights(const Napi::CallbackInfo& info);
  // [sync] setFeatureNames(names: string[]): void — length must be numCols().
  //   Throws INVALID_ARGUMENT, BUSY, DISPOSED, XGBOOST_ERROR.
  Napi::Value SetFeatureNames(const Napi::CallbackInfo& info);
  // [sync] numRows(): number. Throws DISPOSED, XGBOOST_ERROR.
  Napi::Value NumRows(const Napi::CallbackInfo& info);
  // [sync] numCols(): number. Throws DISPOSED, XGBOOST_ERROR.
  Napi::Value NumCols(const Napi::CallbackInfo& info);
  // [sync] dispose(): void — inherited from Handle (deferred while a worker uses it).

  // C++ side, for Booster: the handle, the mutex that serialises its readers,
  // [sync] a DISPOSED check, and [sync, C++ only] the idempotent free.
  DMatrixHandle handle() const { return handle_; }
  std::mutex& mutex() { return mu_; }
  void CheckLiveFor(Napi::Env env) const { CheckLive(env, "DMatrix"); }
  void FreeNative();

 private:
  // [sync] XGDMatrixSetFloatInfo(field) from a Float32Array of numRows() values.
  Napi::Value SetFloatInfo(const Napi::CallbackInfo& info, const char* field, const char* argname);

  DMatrixHandle handle_ = nullptr;
  uint64_t rows_ = 0;
  uint64_t cols_ = 0;
  std::mutex mu_;
};

class Booster final : public Handle<Booster> {
 public:
  // [sync] The JS class (constructor with its methods). Throws on Node-API failure.
  static Napi::Function Define(Napi::Env env);
  // Type tag set on every instance; checked before unwrapping an argument.
  static const napi_type_tag kTag;

  // [sync] new Booster(dmats: DMatrix[]) — XGBoosterCreate with `dmats` as the
  //   cache (training matrix first; [] for a booster to load into), then sets
  //   param nthread=1 (override with setParam) and, with matrices, num_feature =
  //   their widest column count (what XGBoost would infer from its per-thread
  //   cache, see "Home thread" above). Throws INVALID_ARGUMENT,
  //   DISPOSED (a disposed matrix), XGBOOST_ERROR.
  explicit Booster(const Napi::CallbackInfo& info);
  // [sync, finalizer] Frees the native object (if a worker still holds it at
  //   environment teardown, leaks it rather than racing the worker).
  ~Booster() override;

  // [sync] setParam(name: string, value: string): void. Throws XGBOOST_ERROR.
  Napi::Value SetParam(const Napi::CallbackInfo& info);
  // [async] updateOneIter(iteration: number, dtrain: DMatrix): Promise<void>.
  //   Rejects XGBOOST_ERROR; throws INVALID_ARGUMENT / DISPOSED synchronously.
  Napi::Value UpdateOneIter(const Napi::CallbackInfo& info);
  // [sync] evalOneIter(iteration, dmats: DMatrix[], names: string[]): string
  //   (e.g. "[0]\ttrain-merror:0.04"). Throws INVALID_ARGUMENT, XGBOOST_ERROR.
  Napi::Value EvalOneIter(const Napi::CallbackInfo& info);
  // [sync] predictDense(data: Float32Array, rows, cols, options): {shape, values}
  //   In-place predict (XGBoosterPredictFromDense, reusing one proxy DMatrix per
  //   booster); values are copied into a new Float32Array under the mutex.
  //   Throws INVALID_ARGUMENT, XGBOOST_ERROR.
  Napi::Value PredictDense(const Napi::CallbackInfo& info);
  // [async] predictDenseAsync(data, rows, cols, options): Promise<{shape, values}>
  //   The input is copied on the main thread. Rejects XGBOOST_ERROR.
  Napi::Value PredictDenseAsync(const Napi::CallbackInfo& info);
  // [sync] saveModel(file: string): void — format from the extension. Throws XGBOOST_ERROR.
  Napi::Value SaveModel(const Napi::CallbackInfo& info);
  // [sync] loadModel(file: string): void. Throws XGBOOST_ERROR.
  Napi::Value LoadModel(const Napi::CallbackInfo& info);
  // [sync] saveModelToBuffer(format: "json" | "ubj"): Buffer. Throws INVALID_ARGUMENT, XGBOOST_ERROR.
  Napi::Value SaveModelToBuffer(const Napi::CallbackInfo& info);
  // [sync] loadModelFromBuffer(data: Buffer): void. Throws XGBOOST_ERROR.
  Napi::Value LoadModelFromBuffer(const Napi::CallbackInfo& info);
  // [sync] saveConfig(): string (XGBoosterSaveJsonConfig). Throws XGBOOST_ERROR.
  Napi::Value SaveConfig(const Napi::CallbackInfo& info);
  // [sync] loadConfig(json: string): void (XGBoosterLoadJsonConfig). Throws XGBOOST_ERROR.
  Napi::Value LoadConfig(const Napi::CallbackInfo& info);
  // [sync] getFeatureNames(): string[] ([] if none). Throws XGBOOST_ERROR.
  Napi::Value GetFeatureNames(const Napi::CallbackInfo& info);
  // [sync] setFeatureNames(names: string[]): void. Throws XGBOOST_ERROR.
  Napi::Value SetFeatureNames(const Napi::CallbackInfo& info);
  // [sync] numFeatures(): number. Throws XGBOOST_ERROR.
  Napi::Value NumFeatures(const Napi::CallbackInfo& info);
  // [sync] boostedRounds(): number. Throws XGBOOST_ERROR.
  Napi::Value BoostedRounds(const Napi::CallbackInfo& info);
  // [sync] getAttr(name: string): string | null. Throws XGBOOST_ERROR.
  Napi::Value GetAttr(const Napi::CallbackInfo& info);
  // [sync] setAttr(name: string, value: string | null): void (null deletes). Throws XGBOOST_ERROR.
  Napi::Value SetAttr(const Napi::CallbackInfo& info);
  // [sync] dispose(): void — inherited from Handle (deferred while a worker uses it).
  // Every method above also throws DISPOSED on a disposed booster.

  // C++ side, used by the workers (pool thread) with mutex() held.
  BoosterHandle handle() const { return handle_; }
  std::mutex& mutex() { return mu_; }
  // Returns the proxy DMatrix of the main-thread predictDense (created on first
  // use); nullptr if creation failed (XGBoost then makes a temporary one).
  DMatrixHandle proxy();
  // The booster's home thread (started on first use). Call with mutex() held.
  HomeThread& home();
  // [sync, C++ only] Joins the home thread, frees proxy and booster. Idempotent.
  void FreeNative();

 private:
  BoosterHandle handle_ = nullptr;
  DMatrixHandle proxy_ = nullptr;
  std::unique_ptr<HomeThread> home_;
  std::mutex mu_;
};

}  // namespace mlbridge
