// mlbridge addon entry point: initialises and registers the exports declared
// in packages/core/src/binding.ts. Nothing else lives here.
//
//   versions(): { xgboost, crfsuite }   [sync]
//   DMatrix, Booster                    (xgboost.h)
//   CrfTrainer, CrfTagger               (crfsuite.h)
//   Forest                              (forest.h)
#include <napi.h>

#include "common.h"
#include "crfsuite.h"
#include "forest.h"
#include "xgboost.h"

namespace mlbridge {
namespace {

// [sync] versions(): { xgboost: "1.7.4", crfsuite: "0.12.2" }. Never throws.
Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("xgboost", Napi::String::New(env, XgboostVersion()));
  out.Set("crfsuite", Napi::String::New(env, CrfsuiteVersion()));
  return out;
}

}  // namespace
}  // namespace mlbridge

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace mlbridge;
  env.SetInstanceData(new AddonData());
  exports.Set("versions", Napi::Function::New<Versions>(env, "versions"));
  InitXgboost(env, exports);
  InitCrfsuite(env, exports);
  InitForest(env, exports);
  return exports;
}

NODE_API_MODULE(mlbridge, Init)
