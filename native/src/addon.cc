// mlbridge addon entry point: initialises and registers the exports declared
// in packages/core/src/binding.ts. Nothing else lives here.
//
//   versions(): { xgboost, crfsuite }   [sync]
//   trimNativeHeap(): boolean           [sync]
//   DMatrix, Booster                    (xgboost.h)
//   CrfTrainer, CrfTagger               (crfsuite.h)
//   Forest                              (forest.h)
//   lockFile, unlockFile                (filelock.h)
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common.h"
#include "crfsuite.h"
#include "filelock.h"
#include "forest.h"
#include "xgboost.h"

namespace mlbridge {
namespace {

// [sync] versions(): { xgboost: "3.2.0", crfsuite: "0.12.2" }. Never throws.
Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("xgboost", Napi::String::New(env, XgboostVersion()));
  out.Set("crfsuite", Napi::String::New(env, CrfsuiteVersion()));
  return out;
}

// [sync] trimNativeHeap(): boolean — returns the C heap's free pages to the
//   system (glibc malloc_trim(0): also whole free pages inside the heap, which
//   glibc otherwise keeps, so a long-running server's RSS keeps the peak of
//   every burst). true if memory was released; false where there is no glibc.
//   Never throws.
Napi::Value TrimNativeHeap(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace
}  // namespace mlbridge

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace mlbridge;
  env.SetInstanceData(new AddonData());
  exports.Set("versions", Napi::Function::New<Versions>(env, "versions"));
  exports.Set("trimNativeHeap", Napi::Function::New<TrimNativeHeap>(env, "trimNativeHeap"));
  InitXgboost(env, exports);
  InitCrfsuite(env, exports);
  InitForest(env, exports);
  InitFileLock(env, exports);
  return exports;
}

NODE_API_MODULE(mlbridge, Init)
