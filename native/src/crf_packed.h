// PackedSequences: sequences of items of attributes in flat arrays, the one
// form every CRFsuite method works on; the reader that builds it from JS (a
// PackedSequences object or nested arrays, checked, main thread) and the
// conversion of one sequence to a CRFsuite instance.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <crfsuite.h>
}

namespace mlbridge {

// Sequences of items of attributes in flat arrays: the one form every method
// works on. JS passes it as a PackedSequences object (tagPacked, appendPacked)
// or as nested arrays, which are converted to it.
struct PackedSequences {
  std::vector<char> names;              // every attribute's name, each followed by '\0'
  std::vector<uint32_t> name_at;        // per attribute: offset of its name in `names`
  std::vector<double> weights;          // per attribute
  std::vector<uint32_t> item_start{0};  // per item, plus one: index of its first attribute
  std::vector<uint32_t> seq_start{0};   // per sequence, plus one: index of its first item

  size_t size() const { return seq_start.size() - 1; }
  uint32_t length(size_t s) const { return seq_start[s + 1] - seq_start[s]; }
  size_t items() const { return item_start.size() - 1; }
};

namespace crf {

// [sync] One sequence given as nested arrays ([name, weight][][]), packed.
//   Throws INVALID_ARGUMENT naming `where` and the position.
PackedSequences PackedFromArrays(Napi::Env env, Napi::Value v, const std::string& where);

// [sync] A PackedSequences object from JS ({attributeNames, attributeWeights?,
//   itemAttributeCounts, sequenceLengths}), checked and copied. Throws
//   INVALID_ARGUMENT naming `where`, the field and the position.
PackedSequences PackedFromObject(Napi::Env env, Napi::Value v, const std::string& where);

// What SplitNulTerminated found wrong, if anything.
enum class NulSplit { kOk, kTooFew, kEmpty, kTrailing };

// Splits bytes [0, len) into `count` NUL-terminated, non-empty strings and
// appends their offsets to `at`. On a problem, `index` is the string at fault
// (kTooFew: how many were found; kEmpty: the empty one) or, for kTrailing,
// the number of bytes after the last string.
NulSplit SplitNulTerminated(const char* base, size_t len, size_t count, std::vector<uint32_t>* at, size_t* index);

// Owns a crfsuite_instance_t.
struct Instance {
  crfsuite_instance_t inst;
  Instance() { crfsuite_instance_init(&inst); }
  ~Instance() { crfsuite_instance_finish(&inst); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
};

// Fills `inst` with the items of sequence `s` of `p`. attr_id(name) gives an
// attribute's id, or a negative value to leave the attribute out.
template <typename AttrId>
void FillInstance(const PackedSequences& p, size_t s, crfsuite_instance_t* inst, AttrId attr_id) {
  const uint32_t first = p.seq_start[s];
  crfsuite_instance_init_n(inst, static_cast<int>(p.length(s)));
  for (uint32_t t = 0; t < p.length(s); ++t) {
    crfsuite_item_t* item = &inst->items[t];
    const uint32_t a_end = p.item_start[first + t + 1];
    for (uint32_t a = p.item_start[first + t]; a < a_end; ++a) {
      const int aid = attr_id(p.names.data() + p.name_at[a]);
      if (aid < 0) continue;
      crfsuite_attribute_t attr;
      crfsuite_attribute_set(&attr, aid, p.weights[a]);
      crfsuite_item_append_attribute(item, &attr);
    }
  }
}

}  // namespace crf
}  // namespace mlbridge
