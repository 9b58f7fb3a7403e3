// CrfTrainer: CRFsuite training (crf1d, one algorithm) off the event loop.
// Conventions: see crfsuite.h.
//
// Threading: a CrfTrainer's data and parameters are only written on the main
// thread and only while no train() runs. Cancellation is not offered here:
// CRFsuite has no abort hook, so a caller that must stop a training at once
// runs the trainer in a child process and kills it (packages/core does).
#pragma once

#include <napi.h>

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "crf_packed.h"

extern "C" {
#include <crfsuite.h>
}

namespace mlbridge {

class CrfTrainer final : public Handle<CrfTrainer> {
 public:
  // [sync] The JS class (constructor with its methods). Throws on Node-API failure.
  static Napi::Function Define(Napi::Env env);

  // [sync] new CrfTrainer(algorithm: "lbfgs" | "l2sgd" | "ap" | "pa" | "arow")
  //   Creates "train/crf1d/<lbfgs|l2sgd|averaged-perceptron|passive-aggressive|arow>".
  //   Throws INVALID_ARGUMENT (unknown algorithm), CRFSUITE_ERROR.
  explicit CrfTrainer(const Napi::CallbackInfo& info);
  // [sync, finalizer] Frees the native object (if a worker still holds it at
  //   environment teardown, leaks it rather than racing the worker).
  ~CrfTrainer() override;

  // [sync] params(): string[] — parameter names of the algorithm.
  Napi::Value Params(const Napi::CallbackInfo& info);
  // [sync] set(name, value): void — value checked against the parameter type
  //   (int / float). Throws CRFSUITE_ERROR (unknown name, bad value), BUSY.
  Napi::Value Set(const Napi::CallbackInfo& info);
  // [sync] get(name): string. Throws CRFSUITE_ERROR (unknown name).
  Napi::Value Get(const Napi::CallbackInfo& info);
  // [sync] help(name): string "type: description". Throws CRFSUITE_ERROR (unknown name).
  Napi::Value Help(const Napi::CallbackInfo& info);
  // [sync] appendPacked(packed: PackedSequences, labels: Uint8Array, group: number): void
  //   Appends every sequence of `packed`; `labels` holds one label per item,
  //   each followed by '\0'. Throws INVALID_ARGUMENT naming the field and
  //   position (nothing is appended then; also for an empty sequence or
  //   group < 0), BUSY.
  Napi::Value AppendPacked(const Napi::CallbackInfo& info);
  // [async] train(modelFile: string, holdout: number, onLog: (line) => void): Promise<{status}>
  //   Every log line goes to onLog on the main thread, in order. Rejects
  //   CRFSUITE_ERROR if no model file was written, or with the error thrown by
  //   onLog (later lines are then dropped).
  //   Throws synchronously INVALID_ARGUMENT (no data, bad holdout), BUSY (already training).
  Napi::Value Train(const Napi::CallbackInfo& info);
  // [sync] dispose(): void — inherited (deferred while training).
  // Every method above also throws DISPOSED on a disposed trainer.

  // [sync, C++ only] Releases the data, dictionaries and trainer. Idempotent.
  void FreeNative();

  // Used by the train worker: the trainer and data (read on the pool while
  // training; nothing writes them then) and the training flag (main thread).
  crfsuite_trainer_t* trainer() const { return trainer_; }
  crfsuite_data_t* data() { return &data_; }
  void set_training(bool v) { training_ = v; }

 private:
  // [sync] Throws BUSY while a train() runs.
  void CheckIdle(Napi::Env env) const;
  // [sync] Appends every sequence of `packed`, with labels[i] (NUL-terminated) as
  //   item i's label. Throws BUSY, CRFSUITE_ERROR.
  void AppendData(Napi::Env env, const PackedSequences& packed, const std::vector<const char*>& labels, int group);
  // [sync, C++ only] Drops the data and creates fresh dictionaries (sets data_ready_).
  void ResetData();

  crfsuite_trainer_t* trainer_ = nullptr;
  crfsuite_data_t data_{};
  // Attribute name -> CRFsuite's id, in front of data_.attrs: CRFsuite's
  // dictionary is a balanced tree of strings (strcmp per level), a hash lookup
  // is ~10x cheaper, and appending is most of a short training's setup. Misses
  // go to data_.attrs in first-seen order, so the ids (and the model) are
  // CRFsuite's own.
  // Keys view into attr_names_ (stable addresses), so a lookup allocates nothing.
  std::unordered_map<std::string_view, int> attr_ids_;
  std::deque<std::string> attr_names_;
  bool data_ready_ = false;
  bool training_ = false;  // main thread only
};

}  // namespace mlbridge
