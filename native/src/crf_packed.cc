// PackedSequences reader (JS -> C++, main thread). See crf_packed.h.
#include "crf_packed.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "common.h"

namespace mlbridge {
namespace crf {
namespace {

[[noreturn]] void ThrowItems(Napi::Env env, const std::string& where, const char* expected) {
  MLB_THROW(env, kInvalidArgument, where + " must be " + expected);
}

constexpr uint64_t kMaxPackedCount = std::numeric_limits<uint32_t>::max() - 1;

// obj[key] as a typed array of `type`; an empty array when absent and `optional`.
template <typename T>
std::pair<const T*, size_t> TypedField(Napi::Env env, Napi::Object obj, const std::string& where, const char* key,
                                       napi_typedarray_type type, const char* expected, bool optional = false) {
  Napi::Value v = obj.Get(key);
  if (optional && (v.IsUndefined() || v.IsNull())) return {nullptr, 0};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowItems(env, where + "." + key, expected);
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  return {a.Data(), a.ElementLength()};
}

// "attribute a (sequence s, item t, attribute k)" for the flat attribute index `a`.
std::string AttributePosition(const uint32_t* lengths, size_t num_seqs, const uint32_t* counts, uint64_t a) {
  uint64_t first = 0;
  size_t item = 0;
  for (size_t s = 0; s < num_seqs; ++s) {
    for (uint32_t t = 0; t < lengths[s]; ++t, ++item) {
      if (a < first + counts[item]) {
        return "attribute " + std::to_string(a) + " (sequence " + std::to_string(s) + ", item " + std::to_string(t) +
               ", attribute " + std::to_string(a - first) + ")";
      }
      first += counts[item];
    }
  }
  return "attribute " + std::to_string(a);
}

}  // namespace

// One sequence given as nested arrays ([name, weight][][]), packed. Names are
// copied straight into the names buffer (no std::string per attribute).
PackedSequences PackedFromArrays(Napi::Env env, Napi::Value v, const std::string& where) {
  if (!v.IsArray()) ThrowItems(env, where, "an array of items");
  PackedSequences p;
  Napi::Array items = v.As<Napi::Array>();
  const uint32_t n = items.Length();
  // Error locations are spelled out only on the error path: this loop runs for
  // every attribute of every tagged token.
  auto at = [&](uint32_t t) { return where + "[" + std::to_string(t) + "]"; };
  auto at2 = [&](uint32_t t, uint32_t k) { return at(t) + "[" + std::to_string(k) + "]"; };
  constexpr const char* kPair = "[name: non-empty string without NUL, weight: finite number]";
  for (uint32_t t = 0; t < n; ++t) {
    Napi::Value iv = items.Get(t);
    if (!iv.IsArray()) ThrowItems(env, at(t), "an array of [name, weight] attributes");
    Napi::Array attrs = iv.As<Napi::Array>();
    const uint32_t m = attrs.Length();
    for (uint32_t k = 0; k < m; ++k) {
      Napi::Value av = attrs.Get(k);
      if (!av.IsArray()) ThrowItems(env, at2(t, k), kPair);
      Napi::Array pair = av.As<Napi::Array>();
      Napi::Value name = pair.Get(0u);
      Napi::Value weight = pair.Get(1u);
      if (!name.IsString() || !weight.IsNumber()) ThrowItems(env, at2(t, k), kPair);
      const double w = weight.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(w)) ThrowItems(env, at2(t, k), kPair);
      size_t len = 0;
      if (napi_get_value_string_utf8(env, name, nullptr, 0, &len) != napi_ok) throw Napi::Error::New(env);
      if (len == 0) ThrowItems(env, at2(t, k), kPair);
      const size_t off = p.names.size();
      p.names.resize(off + len + 1);
      if (napi_get_value_string_utf8(env, name, p.names.data() + off, len + 1, &len) != napi_ok) {
        throw Napi::Error::New(env);
      }
      if (std::memchr(p.names.data() + off, '\0', len) != nullptr) ThrowItems(env, at2(t, k), kPair);
      if (off > kMaxPackedCount) ThrowItems(env, where, "smaller");
      p.name_at.push_back(static_cast<uint32_t>(off));
      p.weights.push_back(w);
    }
    p.item_start.push_back(static_cast<uint32_t>(p.weights.size()));
  }
  if (p.items() > kMaxPackedCount || p.weights.size() > kMaxPackedCount) ThrowItems(env, where, "smaller");
  p.seq_start.push_back(static_cast<uint32_t>(p.items()));
  return p;
}

NulSplit SplitNulTerminated(const char* base, size_t len, size_t count, std::vector<uint32_t>* at, size_t* index) {
  at->reserve(at->size() + count);
  size_t pos = 0;
  for (size_t i = 0; i < count; ++i) {
    const void* nul = pos < len ? std::memchr(base + pos, '\0', len - pos) : nullptr;
    *index = i;
    if (nul == nullptr) return NulSplit::kTooFew;
    const size_t end = static_cast<const char*>(nul) - base;
    if (end == pos) return NulSplit::kEmpty;
    at->push_back(static_cast<uint32_t>(pos));
    pos = end + 1;
  }
  *index = len - pos;
  return pos == len ? NulSplit::kOk : NulSplit::kTrailing;
}

// A PackedSequences object from JS ({attributeNames, attributeWeights?,
// itemAttributeCounts, sequenceLengths}), checked and copied. Of several
// problems, the one at the lowest attribute is reported (a name before a
// weight).
PackedSequences PackedFromObject(Napi::Env env, Napi::Value v, const std::string& where) {
  if (!v.IsObject() || v.IsArray()) ThrowItems(env, where, "a PackedSequences object");
  Napi::Object o = v.As<Napi::Object>();
  auto [names, names_len] = TypedField<uint8_t>(env, o, where, "attributeNames", napi_uint8_array,
                                                "a Uint8Array (NUL-terminated UTF-8 names)");
  auto [counts, num_items] =
      TypedField<uint32_t>(env, o, where, "itemAttributeCounts", napi_uint32_array, "a Uint32Array");
  auto [lengths, num_seqs] = TypedField<uint32_t>(env, o, where, "sequenceLengths", napi_uint32_array, "a Uint32Array");
  auto [weights, num_weights] =
      TypedField<double>(env, o, where, "attributeWeights", napi_float64_array, "a Float64Array or absent", true);
  auto fail = [&](const char* field, const std::string& what) {
    MLB_THROW(env, kInvalidArgument, where + "." + field + ": " + what);
  };
  uint64_t total_items = 0;
  for (size_t s = 0; s < num_seqs; ++s) total_items += lengths[s];
  if (total_items != num_items) {
    fail("sequenceLengths", "the lengths add up to " + std::to_string(total_items) +
                                " items, but itemAttributeCounts has " + std::to_string(num_items));
  }
  uint64_t total_attrs = 0;
  for (size_t i = 0; i < num_items; ++i) total_attrs += counts[i];
  if (total_attrs > kMaxPackedCount || names_len > kMaxPackedCount) fail("attributeNames", "too many attributes");
  if (num_weights != 0 && num_weights != total_attrs) {
    fail("attributeWeights", "expected " + std::to_string(total_attrs) + " weights (one per attribute) or none, got " +
                                 std::to_string(num_weights));
  }
  PackedSequences p;
  p.names.assign(reinterpret_cast<const char*>(names), reinterpret_cast<const char*>(names) + names_len);
  size_t index = 0;
  const NulSplit split = SplitNulTerminated(p.names.data(), names_len, total_attrs, &p.name_at, &index);
  // The first bad name's attribute (total_attrs for bytes after the last name), then the first bad weight before it.
  const uint64_t bad_name = split == NulSplit::kOk         ? total_attrs + 1
                            : split == NulSplit::kTrailing ? total_attrs
                                                           : index;
  for (uint64_t a = 0; a < std::min<uint64_t>(num_weights, bad_name); ++a) {
    if (!std::isfinite(weights[a])) {
      fail("attributeWeights", AttributePosition(lengths, num_seqs, counts, a) + " is not finite");
    }
  }
  if (split == NulSplit::kTooFew) {
    fail("attributeNames", "holds " + std::to_string(index) + " NUL-terminated names, itemAttributeCounts add up to " +
                               std::to_string(total_attrs));
  }
  if (split == NulSplit::kEmpty)
    fail("attributeNames", AttributePosition(lengths, num_seqs, counts, index) + " has an empty name");
  if (split == NulSplit::kTrailing) {
    fail("attributeNames", "has " + std::to_string(index) + " bytes after the " + std::to_string(total_attrs) +
                               " names itemAttributeCounts add up to");
  }
  if (num_weights) p.weights.assign(weights, weights + num_weights);
  else p.weights.assign(total_attrs, 1.0);
  p.item_start.reserve(num_items + 1);
  for (size_t i = 0; i < num_items; ++i) p.item_start.push_back(p.item_start.back() + counts[i]);
  p.seq_start.reserve(num_seqs + 1);
  for (size_t s = 0; s < num_seqs; ++s) p.seq_start.push_back(p.seq_start.back() + lengths[s]);
  return p;
}

}  // namespace crf
}  // namespace mlbridge
