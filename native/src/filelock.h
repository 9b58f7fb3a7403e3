// An exclusive lock on a file for the life of the process (flock(2)): the
// model store takes one on its folder so that a second server on the same
// folder is refused instead of deleting what the first one writes.
#pragma once

#include <napi.h>

namespace mlbridge {

void InitFileLock(Napi::Env env, Napi::Object exports);

}  // namespace mlbridge
