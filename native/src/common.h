// Shared helpers of the mlbridge addon: error creation (every error carries a
// stable `code`), throw/reject macros, argument checks, the handle lifetime
// mixin (dispose / deferred free / DISPOSED) and the promise worker template.
//
// Everything in this header runs on the JS main thread, except
// PromiseWorker::Execute, which runs on the libuv pool and touches only C++.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace mlbridge {

// Error codes (see packages/core/src/binding.ts).
inline constexpr const char* kXgboostError = "XGBOOST_ERROR";
inline constexpr const char* kCrfsuiteError = "CRFSUITE_ERROR";
inline constexpr const char* kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr const char* kDisposed = "DISPOSED";
inline constexpr const char* kBusy = "BUSY";
inline constexpr const char* kInternal = "INTERNAL";

// [sync] An Error with message `message` and property `code`.
inline Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace mlbridge

// Throws (as a JS exception, via NAPI_CPP_EXCEPTIONS) an Error with a code.
#define MLB_THROW(env, code, message) throw ::mlbridge::MakeError((env), (code), (message))
// Rejects a Napi::Promise::Deferred with an Error with a code.
#define MLB_REJECT(deferred, code, message) \
  (deferred).Reject(::mlbridge::MakeError((deferred).Env(), (code), (message)).Value())

namespace mlbridge {

// ---------------------------------------------------------------------------
// Argument helpers. All [sync]; all throw INVALID_ARGUMENT naming the argument.
// ---------------------------------------------------------------------------

inline std::string ArgLabel(size_t i, const char* name) {
  return "argument " + std::to_string(i + 1) + " (" + name + ")";
}

[[noreturn]] inline void ThrowArg(Napi::Env env, size_t i, const char* name, const char* expected) {
  MLB_THROW(env, kInvalidArgument, ArgLabel(i, name) + " must be " + expected);
}

// Returns info[i] as a string.
inline std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) ThrowArg(info.Env(), i, name, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// Returns info[i] as a boolean.
inline bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean()) ThrowArg(info.Env(), i, name, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// Returns info[i] as a number (NaN and infinities allowed).
inline double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) ThrowArg(info.Env(), i, name, "a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// Returns info[i] as an integer in [lo, hi].
inline int64_t ArgInteger(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi) {
  const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (i >= info.Length() || !info[i].IsNumber()) ThrowArg(info.Env(), i, name, expected.c_str());
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v || v < static_cast<double>(lo) || v > static_cast<double>(hi)) {
    ThrowArg(info.Env(), i, name, expected.c_str());
  }
  return static_cast<int64_t>(v);
}

// Returns info[i] as a Float32Array.
inline Napi::Float32Array ArgFloat32Array(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowArg(info.Env(), i, name, "a Float32Array");
  }
  return info[i].As<Napi::Float32Array>();
}

// Float32 values passed either as a Float32Array or as a Uint8Array of their
// bytes in the machine's order (little-endian on every platform the addon is
// built for; core converts elsewhere) at any byte offset: a protobuf `bytes`
// field is read where it lies, without a copy in JS.
struct FloatArg {
  const uint8_t* bytes = nullptr;
  size_t count = 0;
  // The values in place, or nullptr when the bytes are not float-aligned.
  const float* Aligned() const {
    return reinterpret_cast<uintptr_t>(bytes) % alignof(float) == 0 ? reinterpret_cast<const float*>(bytes) : nullptr;
  }
  // The values in place when aligned, else copied into `scratch`.
  const float* Read(std::vector<float>& scratch) const {
    if (const float* p = Aligned()) return p;
    CopyTo(scratch);
    return scratch.data();
  }
  // Copies the values into `out` (resized to count).
  void CopyTo(std::vector<float>& out) const {
    out.resize(count);
    if (count) std::memcpy(out.data(), bytes, count * sizeof(float));
  }
};

// Returns info[i], a Float32Array or a Uint8Array of float32 bytes, as a FloatArg.
inline FloatArg ArgFloats(const Napi::CallbackInfo& info, size_t i, const char* name) {
  constexpr const char* kExpected = "a Float32Array or a Uint8Array of float32 bytes (a multiple of 4)";
  if (i < info.Length() && info[i].IsTypedArray()) {
    Napi::TypedArray t = info[i].As<Napi::TypedArray>();
    if (t.TypedArrayType() == napi_float32_array) {
      Napi::Float32Array a = t.As<Napi::Float32Array>();
      return {reinterpret_cast<const uint8_t*>(a.Data()), a.ElementLength()};
    }
    if (t.TypedArrayType() == napi_uint8_array && t.ByteLength() % sizeof(float) == 0) {
      Napi::Uint8Array b = t.As<Napi::Uint8Array>();
      return {b.Data(), b.ElementLength() / sizeof(float)};
    }
  }
  ThrowArg(info.Env(), i, name, kExpected);
}

// Returns info[i] (a Buffer or any Uint8Array) as a pointer and a length.
inline std::pair<const uint8_t*, size_t> ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArg(info.Env(), i, name, "a Buffer");
  }
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  return {a.Data(), a.ElementLength()};
}

// Returns info[i] as an array.
inline Napi::Array ArgArray(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsArray()) ThrowArg(info.Env(), i, name, "an array");
  return info[i].As<Napi::Array>();
}

// Returns info[i] as an object (not null, not an array).
inline Napi::Object ArgObject(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsObject() || info[i].IsArray()) ThrowArg(info.Env(), i, name, "an object");
  return info[i].As<Napi::Object>();
}

// Returns info[i] as an array of strings.
inline std::vector<std::string> ArgStringArray(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Array a = ArgArray(info, i, name);
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) ThrowArg(info.Env(), i, name, "an array of strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

// Per-environment data of the addon (napi instance data; one per JS realm
// that loads the addon, freed by Node at environment teardown).
struct AddonData {
  Napi::FunctionReference crf_tagger_ctor;
};

// ---------------------------------------------------------------------------
// Handle lifetime.
// ---------------------------------------------------------------------------

// What a worker holds on a handle while it runs (main thread only).
class WorkLease {
 public:
  // [sync] Marks the handle in use by a worker and keeps its JS object alive.
  virtual void BeginWork() = 0;
  // [sync] Ends one use; frees the native object if dispose() was called meanwhile.
  virtual void EndWork() = 0;

 protected:
  ~WorkLease() = default;
};

// CRTP base of every handle. T must define `void FreeNative()` (idempotent,
// C++ only) and call it from its destructor when `active_ == 0`.
// `disposed_` and `active_` are touched only on the main thread.
template <class T>
class Handle : public Napi::ObjectWrap<T>, public WorkLease {
 public:
  explicit Handle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {}

  void BeginWork() override {
    this->Ref();
    ++active_;
  }

  void EndWork() override {
    --active_;
    if (disposed_ && active_ == 0) static_cast<T*>(this)->FreeNative();
    this->Unref();
  }

  // [sync] JS dispose(): frees now, or when the last worker using the handle ends.
  // Idempotent; never throws.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (!disposed_) {
      disposed_ = true;
      if (active_ == 0) static_cast<T*>(this)->FreeNative();
    }
    return info.Env().Undefined();
  }

  // [sync] Throws DISPOSED if dispose() was called.
  void CheckLive(Napi::Env env, const char* what) const {
    if (disposed_) MLB_THROW(env, kDisposed, std::string(what) + " has been disposed");
  }

  bool busy() const { return active_ > 0; }

 protected:
  bool disposed_ = false;
  int active_ = 0;
};

// Unwraps `value` as a T created by this addon (checked by type tag, so a
// foreign or forged object can never be reinterpreted). Throws INVALID_ARGUMENT.
template <class T>
T* UnwrapTagged(Napi::Env env, Napi::Value value, const napi_type_tag* tag, const std::string& label,
                const char* expected) {
  if (!value.IsObject()) MLB_THROW(env, kInvalidArgument, label + " must be " + expected);
  Napi::Object obj = value.As<Napi::Object>();
  if (!obj.CheckTypeTag(tag)) MLB_THROW(env, kInvalidArgument, label + " must be " + expected);
  void* p = nullptr;
  if (napi_unwrap(env, obj, &p) != napi_ok || p == nullptr) {
    MLB_THROW(env, kInvalidArgument, label + " must be " + expected);
  }
  return static_cast<T*>(p);
}

// ---------------------------------------------------------------------------
// Promise worker.
// ---------------------------------------------------------------------------

// Op is a plain C++ struct describing one operation:
//   std::string err;            // set by Execute on failure
//   const char* code;           // error code used when err is set
//   void Execute();             // pool thread: C++ only, must not touch JS
//   Napi::Value Result(Napi::Env env);   // main thread: builds the JS result
// The worker holds leases on the handles the operation uses; they are ended
// (and deferred frees run) before the promise settles.
template <class Op>
class PromiseWorker final : public Napi::AsyncWorker {
 public:
  // [sync] Queues `op`; returns the promise. Leases begin here.
  static Napi::Promise Start(Napi::Env env, const char* name, Op&& op, std::vector<WorkLease*> leases) {
    auto* w = new PromiseWorker(env, name, std::move(op), std::move(leases));
    Napi::Promise p = w->deferred_.Promise();
    for (WorkLease* l : w->leases_) l->BeginWork();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      op_.Execute();
    } catch (const std::exception& e) {
      op_.err = std::string("internal error: ") + e.what();
      op_.code = kInternal;
    } catch (...) {
      op_.err = "internal error: unknown exception";
      op_.code = kInternal;
    }
    if (!op_.err.empty()) SetError(op_.err);
  }

  void OnOK() override {
    // Build the result while the handles are still alive, then end the leases
    // (running any deferred free), then settle.
    Napi::Env env = Env();
    Napi::Value result;
    Napi::Value error;
    try {
      result = op_.Result(env);
    } catch (const Napi::Error& e) {
      error = e.Value();
    } catch (const std::exception& e) {
      error = MakeError(env, kInternal, std::string("internal error: ") + e.what()).Value();
    }
    EndLeases();
    if (error.IsEmpty()) {
      deferred_.Resolve(result);
    } else {
      deferred_.Reject(error);
    }
  }

  void OnError(const Napi::Error&) override {
    EndLeases();
    MLB_REJECT(deferred_, op_.code ? op_.code : kInternal, op_.err);
  }

 private:
  PromiseWorker(Napi::Env env, const char* name, Op&& op, std::vector<WorkLease*> leases)
      : Napi::AsyncWorker(env, name),
        op_(std::move(op)),
        deferred_(Napi::Promise::Deferred::New(env)),
        leases_(std::move(leases)) {}

  void EndLeases() {
    for (WorkLease* l : leases_) l->EndWork();
    leases_.clear();
  }

  Op op_;
  Napi::Promise::Deferred deferred_;
  std::vector<WorkLease*> leases_;
};

}  // namespace mlbridge
