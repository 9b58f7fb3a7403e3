// Validation of a CRFsuite model image. See crf_model_check.h.
#include "crf_model_check.h"

#include <algorithm>
#include <cstring>

namespace mlbridge {
namespace crf {
namespace {

// Tagging allocates O(L^2) for transitions with int arithmetic inside CRFsuite:
// models with more labels are refused (crf_tagger.cc limits the O(T*L) part).
constexpr uint32_t kMaxLabels = 4096;

class ModelChecker {
 public:
  ModelChecker(const uint8_t* p, size_t n) : p_(p), n_(n) {}

  bool u32(uint64_t off, uint32_t* v) const {
    if (off > n_ || n_ - off < 4) return false;
    const uint8_t* q = p_ + off;
    *v = static_cast<uint32_t>(q[0]) | (static_cast<uint32_t>(q[1]) << 8) | (static_cast<uint32_t>(q[2]) << 16) |
         (static_cast<uint32_t>(q[3]) << 24);
    return true;
  }

  bool Validate(std::string* why) {
    const char* reason = Check();
    if (reason != nullptr) *why = reason;
    return reason == nullptr;
  }

 private:
  static constexpr uint32_t kHeaderSize = 48;

  const char* Check() {
    if (n_ <= kHeaderSize) return "too short for a CRFsuite model";
    if (std::memcmp(p_, "lCRF", 4) != 0) return "bad magic (not a CRFsuite model)";
    uint32_t size = 0, version = 0;
    u32(4, &size);
    if (std::memcmp(p_ + 8, "FOMC", 4) != 0) return "unknown model type";
    u32(12, &version);
    if (version != 100) return "unknown model version";
    if (size > n_) return "truncated model (header size exceeds the data)";
    if (size <= kHeaderSize) return "bad header size";
    n_ = size;  // everything must lie within the declared size
    // (The header's num_features field is never filled in by CRFsuite's writer:
    // the feature count is the FEAT chunk's.)
    uint32_t num_features = 0, off_features = 0, off_labels = 0, off_attrs = 0, off_labelrefs = 0, off_attrrefs = 0;
    u32(20, &num_labels_);
    u32(24, &num_attrs_);
    u32(28, &off_features);
    u32(32, &off_labels);
    u32(36, &off_attrs);
    u32(40, &off_labelrefs);
    u32(44, &off_attrrefs);
    if (num_labels_ == 0) return "model has no labels";
    if (num_labels_ > kMaxLabels) return "model has too many labels";

    // Features: FEAT chunk, then num_features records of 20 bytes.
    if (!Chunk(off_features, "FEAT")) return "bad feature chunk";
    u32(static_cast<uint64_t>(off_features) + 8, &num_features);
    if (static_cast<uint64_t>(off_features) + 12 + uint64_t{20} * num_features > n_) return "truncated feature table";
    for (uint32_t f = 0; f < num_features; ++f) {
      const uint64_t o = static_cast<uint64_t>(off_features) + 12 + uint64_t{20} * f;
      uint32_t type = 0, src = 0, dst = 0;
      u32(o, &type);
      u32(o + 4, &src);
      u32(o + 8, &dst);
      if (type > 1) return "bad feature type";
      if (dst >= num_labels_) return "feature refers to an unknown label";
      if (src >= (type == 0 ? num_attrs_ : num_labels_)) return "feature refers to an unknown source";
    }
    num_features_ = num_features;

    if (const char* r = Cqdb(off_labels, num_labels_)) return r;
    if (const char* r = Cqdb(off_attrs, num_attrs_)) return r;
    if (const char* r = Refs(off_labelrefs, "LFRF", num_labels_)) return r;
    if (const char* r = Refs(off_attrrefs, "AFRF", num_attrs_)) return r;
    return nullptr;
  }

  bool Chunk(uint32_t off, const char* id) const {
    return off >= kHeaderSize && static_cast<uint64_t>(off) + 12 <= n_ && std::memcmp(p_ + off, id, 4) == 0;
  }

  // A NUL-terminated string starting at `off`, before `end`.
  bool CString(uint64_t off, uint64_t end) const { return off < end && std::memchr(p_ + off, 0, end - off) != nullptr; }

  // Feature reference chunk: `count` offsets, each to [n, fid * n].
  const char* Refs(uint32_t off, const char* id, uint32_t count) const {
    if (!Chunk(off, id)) return "bad feature reference chunk";
    uint32_t declared = 0;
    u32(static_cast<uint64_t>(off) + 8, &declared);
    if (declared < count) return "feature reference table too small";
    if (static_cast<uint64_t>(off) + 12 + uint64_t{4} * count > n_) return "truncated feature reference table";
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t ref = 0, num = 0;
      u32(static_cast<uint64_t>(off) + 12 + uint64_t{4} * i, &ref);
      if (!u32(ref, &num)) return "feature reference out of bounds";
      if (static_cast<uint64_t>(ref) + 4 + uint64_t{4} * num > n_) return "feature reference list out of bounds";
      for (uint32_t k = 0; k < num; ++k) {
        uint32_t fid = 0;
        u32(static_cast<uint64_t>(ref) + 4 + uint64_t{4} * k, &fid);
        if (fid >= num_features_) return "feature reference to an unknown feature";
      }
    }
    return nullptr;
  }

  // CQDB string table at `off` holding ids [0, ids): see cqdb.c (cqdb_reader,
  // cqdb_to_id, cqdb_to_string) for what is read.
  const char* Cqdb(uint32_t off, uint32_t ids) const {
    constexpr uint64_t kCqdbHeader = 24, kTables = 256, kData = kCqdbHeader + 8 * kTables;
    if (off < kHeaderSize || static_cast<uint64_t>(off) + kData > n_) return "bad string table offset";
    if (std::memcmp(p_ + off, "CQDB", 4) != 0) return "bad string table id";
    uint32_t csize = 0, byteorder = 0, bwd_size = 0, bwd_offset = 0;
    u32(off + 4, &csize);
    u32(off + 12, &byteorder);
    u32(off + 16, &bwd_size);
    u32(off + 20, &bwd_offset);
    if (byteorder != 0x62445371) return "bad string table byte order";
    if (csize < kData || static_cast<uint64_t>(off) + csize > n_) return "bad string table size";
    const uint64_t end = static_cast<uint64_t>(off) + csize;  // absolute end of the chunk
    uint64_t records = 0;
    for (uint64_t t = 0; t < kTables; ++t) {
      uint32_t toff = 0, num = 0;
      u32(off + kCqdbHeader + 8 * t, &toff);
      u32(off + kCqdbHeader + 8 * t + 4, &num);
      records += num / 2;
      if (toff == 0) continue;
      if (static_cast<uint64_t>(toff) + uint64_t{8} * num > csize) return "string table bucket out of bounds";
      bool has_empty = false;
      for (uint32_t k = 0; k < num; ++k) {
        uint32_t roff = 0, value = 0;
        u32(off + static_cast<uint64_t>(toff) + 8 * uint64_t{k} + 4, &roff);
        if (roff == 0) {
          has_empty = true;
          continue;
        }
        const uint64_t rec = static_cast<uint64_t>(off) + roff;
        if (rec + 8 > end) return "string table record out of bounds";
        u32(rec, &value);
        if (value >= ids) return "string table id out of range";
        if (!CString(rec + 8, end)) return "unterminated string in string table";
      }
      // cqdb_to_id probes until an empty bucket: a full table never ends.
      if (num > 0 && !has_empty) return "full string table bucket";
    }
    // The backward array (id -> string) must exist and cover every id.
    if (bwd_offset == 0) return ids == 0 ? nullptr : "string table without backward links";
    if (records > (csize - std::min<uint64_t>(csize, bwd_offset)) / 4 || bwd_offset >= csize) {
      return "string table backward links out of bounds";
    }
    if (bwd_size > records || bwd_size < ids) return "bad string table backward size";
    for (uint32_t id = 0; id < ids; ++id) {
      uint32_t roff = 0;
      u32(off + static_cast<uint64_t>(bwd_offset) + 4 * uint64_t{id}, &roff);
      const uint64_t rec = static_cast<uint64_t>(off) + roff;
      if (roff == 0 || rec + 8 > end || !CString(rec + 8, end)) return "bad string table backward link";
    }
    return nullptr;
  }

  const uint8_t* p_;
  size_t n_;
  uint32_t num_labels_ = 0;
  uint32_t num_attrs_ = 0;
  uint32_t num_features_ = 0;
};

}  // namespace

bool ValidateModel(const uint8_t* p, size_t n, std::string* why) { return ModelChecker(p, n).Validate(why); }

}  // namespace crf
}  // namespace mlbridge
