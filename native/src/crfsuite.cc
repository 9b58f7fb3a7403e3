// CRFsuite bindings: registration and shared conventions. See crfsuite.h.
#include "crfsuite.h"

#include "common.h"
#include "crf_tagger.h"
#include "crf_trainer.h"

extern "C" {
#include <crfsuite.h>
}

namespace mlbridge {

std::string CrfsuiteVersion() { return CRFSUITE_VERSION; }

void InitCrfsuite(Napi::Env env, Napi::Object exports) {
  exports.Set("CrfTrainer", CrfTrainer::Define(env));
  Napi::Function tagger = CrfTagger::Define(env);
  env.GetInstanceData<AddonData>()->crf_tagger_ctor = Napi::Persistent(tagger);
  exports.Set("CrfTagger", tagger);
}

namespace crf {

std::string RcMessage(const std::string& call, int rc, const std::string& what) {
  std::string m = "crfsuite " + call + " failed (return code " + std::to_string(rc) + ")";
  if (!what.empty()) m += ": " + what;
  return m;
}

}  // namespace crf
}  // namespace mlbridge
