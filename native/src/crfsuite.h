// CRFsuite bindings: CrfTrainer (crf1d, one algorithm) and CrfTagger.
// CRFsuite 0.12.2 is compiled from the crfsuite npm package (target crfsuite_c).
//
// Conventions (see common.h): CRFsuite failures -> CRFSUITE_ERROR whose message
// names the CRFsuite call and its return code; bad arguments ->
// INVALID_ARGUMENT; methods of a disposed handle -> DISPOSED; a mutation of a
// trainer while it trains -> BUSY; a cancelled train() -> CANCELLED.
//
// Threading: CRFsuite's tagger is not thread-safe (chokkan/crfsuite#35). Each
// CrfTagger owns one std::mutex, held by tag()/probability() and by the
// tagMany() worker around each sequence. A CrfTrainer's data and parameters
// are only written on the main thread and only while no train() runs.
//
// Model bytes: CrfTagger copies the model into memory it owns (the CRFsuite
// memory reader does not copy), validates the whole structure (header, both
// CQDB string tables, feature references, features) before handing it to
// CRFsuite, and keeps the copy alive as long as the model. fromFile reads the
// file into such a copy too, so files and buffers are checked the same way.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"

extern "C" {
#include <crfsuite.h>
}

namespace mlbridge {

// [sync] Registers exports.CrfTrainer and exports.CrfTagger.
void InitCrfsuite(Napi::Env env, Napi::Object exports);

// [sync] CRFsuite version string ("0.12.2").
std::string CrfsuiteVersion();

// Sequences of items of attributes in flat arrays: the one form every method
// works on. JS passes it as a PackedSequences object (tagPacked, appendPacked)
// or as nested arrays, which are converted to it.
struct PackedSequences {
  std::vector<char> names;            // every attribute's name, each followed by '\0'
  std::vector<uint32_t> name_at;      // per attribute: offset of its name in `names`
  std::vector<double> weights;        // per attribute
  std::vector<uint32_t> item_start{0};  // per item, plus one: index of its first attribute
  std::vector<uint32_t> seq_start{0};   // per sequence, plus one: index of its first item

  size_t size() const { return seq_start.size() - 1; }
  uint32_t length(size_t s) const { return seq_start[s + 1] - seq_start[s]; }
  size_t items() const { return item_start.size() - 1; }
};

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
  // [sync] append(items: [name, weight][][], labels: string[], group: number): void
  //   Throws INVALID_ARGUMENT (shape, empty sequence, non-finite weight, group < 0), BUSY.
  Napi::Value Append(const Napi::CallbackInfo& info);
  // [sync] appendPacked(packed: PackedSequences, labels: Uint8Array, group: number): void
  //   Appends every sequence of `packed`; `labels` holds one label per item,
  //   each followed by '\0'. Throws INVALID_ARGUMENT naming the field and
  //   position (nothing is appended then), BUSY.
  Napi::Value AppendPacked(const Napi::CallbackInfo& info);
  // [sync] clear(): void — drops all appended data. Throws BUSY.
  Napi::Value Clear(const Napi::CallbackInfo& info);
  // [async] train(modelFile: string, holdout: number, onLog: (line) => void): Promise<{status}>
  //   Every log line goes to onLog on the main thread, in order. Rejects
  //   CANCELLED after cancel(), CRFSUITE_ERROR if no model file was written,
  //   or with the error thrown by onLog (later lines are then dropped).
  //   Throws synchronously INVALID_ARGUMENT (no data, bad holdout), BUSY (already training).
  Napi::Value Train(const Napi::CallbackInfo& info);
  // [sync] cancel(): void — flags the running train() (no-op otherwise); its
  //   promise then rejects with CANCELLED, even if the library had already
  //   returned, and no further log lines are forwarded.
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  // [sync] dispose(): void — inherited (deferred while training).
  // Every method above also throws DISPOSED on a disposed trainer.

  // [sync, C++ only] Releases the data, dictionaries and trainer. Idempotent.
  void FreeNative();

  // Used by the train worker: the trainer and data (read on the pool while
  // training; nothing writes them then), the cancel flag (any thread), and the
  // training flag (main thread).
  crfsuite_trainer_t* trainer() const { return trainer_; }
  crfsuite_data_t* data() { return &data_; }
  std::atomic<bool>& cancelled() { return cancelled_; }
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
  bool data_ready_ = false;
  bool training_ = false;  // main thread only
  std::atomic<bool> cancelled_{false};
};

// Native state of an open model: owned bytes, CRFsuite model, tagger, dictionaries.
struct CrfModelState;

class CrfTagger final : public Handle<CrfTagger> {
 public:
  // [sync] The JS class (constructor with its methods). Throws on Node-API failure.
  static Napi::Function Define(Napi::Env env);
  // Type tag set on every instance; checked before unwrapping an argument.
  static const napi_type_tag kTag;

  // [sync] Not callable from JS (throws INVALID_ARGUMENT); used by the static
  //   factories, which pass the prepared model state.
  explicit CrfTagger(const Napi::CallbackInfo& info);
  // [sync, finalizer] Frees the native object (if a worker still holds it at
  //   environment teardown, leaks it rather than racing the worker).
  ~CrfTagger() override;

  // [sync] CrfTagger.fromFile(file: string): CrfTagger
  //   Throws CRFSUITE_ERROR (unreadable file, invalid model).
  static Napi::Value FromFile(const Napi::CallbackInfo& info);
  // [sync] CrfTagger.fromBuffer(data: Buffer): CrfTagger — the bytes are copied.
  //   Throws INVALID_ARGUMENT (not a Buffer), CRFSUITE_ERROR (invalid model).
  static Napi::Value FromBuffer(const Napi::CallbackInfo& info);

  // [sync] labels(): string[] in model order.
  Napi::Value Labels(const Napi::CallbackInfo& info);
  // [sync] attributes(): string[] in model order.
  Napi::Value Attributes(const Napi::CallbackInfo& info);
  // [sync] tag(items, probability: boolean, marginals: boolean): {labels, probability?, marginals?}
  //   Attributes unknown to the model are dropped. Throws INVALID_ARGUMENT.
  Napi::Value Tag(const Napi::CallbackInfo& info);
  // [sync] tagPacked(packed: PackedSequences, probability, marginals):
  //   {paths: Int32Array (label index per item), probabilities?: Float64Array
  //   (per sequence), marginals?: Float64Array (items x labels)}.
  //   Throws INVALID_ARGUMENT naming the field and position.
  Napi::Value TagPacked(const Napi::CallbackInfo& info);
  // [async] tagPackedAsync(packed, probability, marginals): Promise<same> — off
  //   the event loop. Throws INVALID_ARGUMENT synchronously (inputs are checked first).
  Napi::Value TagPackedAsync(const Napi::CallbackInfo& info);
  // [sync] probability(items, labels: string[]): number — P(labels | items).
  //   Throws INVALID_ARGUMENT (length mismatch, label unknown to the model).
  Napi::Value Probability(const Napi::CallbackInfo& info);
  // [sync] dispose(): void — inherited (deferred while tagPackedAsync runs).
  // Every method above also throws DISPOSED on a disposed tagger.

  // [sync, C++ only] Releases the tagger, the model, then the model bytes. Idempotent.
  void FreeNative();
  CrfModelState* state() const { return state_.get(); }

 private:
  // [sync] Validates `bytes`, opens the model over them (they become owned by
  //   the model state) and wraps it in a new CrfTagger. Throws CRFSUITE_ERROR.
  static Napi::Value Open(Napi::Env env, std::vector<uint8_t>&& bytes, const std::string& source);

  std::unique_ptr<CrfModelState> state_;
};

}  // namespace mlbridge
