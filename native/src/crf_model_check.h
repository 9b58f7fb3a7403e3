// Validation of a CRFsuite model image before CRFsuite reads it.
//
// CRFsuite trusts every offset and count in a model image. ValidateModel covers
// everything the model reader and the tagger dereference, so that random bytes,
// truncated files and inconsistent tables are rejected before CRFsuite sees them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mlbridge {
namespace crf {

// [sync, any thread] Whether the `n` bytes at `p` are a CRFsuite model
//   ("lCRF", "FOMC", version 100) with 1 to 4096 labels whose header, feature
//   table, both CQDB string tables and both feature reference tables lie
//   within the declared size and refer only to what exists. If not, sets `why`
//   to what is wrong.
bool ValidateModel(const uint8_t* p, size_t n, std::string* why);

}  // namespace crf
}  // namespace mlbridge
