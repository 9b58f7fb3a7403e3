// CRFsuite's L-BFGS objective on several threads (crf_threads.c): what the
// addon's C++ needs of it.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <crfsuite.h>

// The largest "threads" value the encoder uses (larger values use this many).
#define MLBRIDGE_CRF_MAX_THREADS 64

// The error of the training's last run when its threads' encoders could not be
// made (the run then stopped at once), else NULL. Valid until the next train()
// or the trainer's release.
const char* mlbridge_crf_threads_error(crfsuite_trainer_t* trainer);

#ifdef __cplusplus
}
#endif
