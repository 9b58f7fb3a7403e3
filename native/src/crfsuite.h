// CRFsuite bindings: CrfTrainer (crf1d, one algorithm; crf_trainer.h) and
// CrfTagger (crf_tagger.h). CRFsuite 0.12.2 is compiled from the crfsuite npm
// package (target crfsuite_c).
//
// Conventions (see common.h): CRFsuite failures -> CRFSUITE_ERROR whose message
// names the CRFsuite call and its return code (crf::RcMessage); bad arguments ->
// INVALID_ARGUMENT; methods of a disposed handle -> DISPOSED; a mutation of a
// trainer while it trains -> BUSY.
//
// Files:
//   crfsuite.{h,cc}         this module's entry points and shared conventions
//   crf_packed.{h,cc}       PackedSequences: the packed-sequence reader (JS ->
//                           C++) and its conversion to CRFsuite instances
//   crf_model_check.{h,cc}  validation of untrusted model bytes
//   crf_trainer.{h,cc}      CrfTrainer and its training worker
//   crf_tagger.{h,cc}       CrfTagger, its model state and the tagging work
#pragma once

#include <napi.h>

#include <string>

namespace mlbridge {

// [sync] Registers exports.CrfTrainer and exports.CrfTagger.
void InitCrfsuite(Napi::Env env, Napi::Object exports);

// [sync] CRFsuite version string ("0.12.2").
std::string CrfsuiteVersion();

// Internal to the CRFsuite files (crf_*.cc).
namespace crf {

// "crfsuite <call> failed (return code <rc>)[: <what>]".
std::string RcMessage(const std::string& call, int rc, const std::string& what = std::string());

}  // namespace crf
}  // namespace mlbridge
