// CrfTagger: an open CRFsuite model, tagging on the main thread or off it.
// Conventions: see crfsuite.h.
//
// Threading: CRFsuite's tagger is not thread-safe (chokkan/crfsuite#35), but
// taggers over one model are independent. Each call (tag(), probability(), a
// tagPackedAsync() worker) leases a tagger of its own from the model's pool for
// its duration, so calls on several threads tag at once; the pool grows to the
// number of callers at once.
//
// Model bytes: CrfTagger copies the model into memory it owns (the CRFsuite
// memory reader does not copy), validates the whole structure (header, both
// CQDB string tables, feature references, features; crf_model_check.h) before
// handing it to CRFsuite, and keeps the copy alive as long as the model.
// fromFile reads the file into such a copy too, so files and buffers are
// checked the same way.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace mlbridge {

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
