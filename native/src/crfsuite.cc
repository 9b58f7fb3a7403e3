// CRFsuite bindings. See crfsuite.h for the contract of every method.
#include "crfsuite.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

namespace mlbridge {

const napi_type_tag CrfTagger::kTag = {0x6d6c6272696467ULL, 0x6543726654616767ULL};

namespace {

// Tagging allocates O(L^2) for transitions and O(T*L) per sequence with int
// arithmetic inside CRFsuite: keep both far from overflow.
constexpr uint32_t kMaxLabels = 4096;
constexpr int64_t kMaxItemsTimesLabels = int64_t{1} << 22;  // ~7 arrays of 32 MiB at most

std::string RcMessage(const std::string& call, int rc, const std::string& what = std::string()) {
  std::string m = "crfsuite " + call + " failed (return code " + std::to_string(rc) + ")";
  if (!what.empty()) m += ": " + what;
  return m;
}

// ----- JS -> C++ conversion of items (main thread) -------------------------

[[noreturn]] void ThrowItems(Napi::Env env, const std::string& where, const char* expected) {
  MLB_THROW(env, kInvalidArgument, where + " must be " + expected);
}

constexpr uint64_t kMaxPackedCount = std::numeric_limits<uint32_t>::max() - 1;

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

// What SplitNulTerminated found wrong, if anything.
enum class NulSplit { kOk, kTooFew, kEmpty, kTrailing };

// Splits bytes [0, len) into `count` NUL-terminated, non-empty strings and
// appends their offsets to `at`. On a problem, `index` is the string at fault
// (kTooFew: how many were found; kEmpty: the empty one) or, for kTrailing,
// the number of bytes after the last string.
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

// A PackedSequences object from JS ({attributeNames, attributeWeights?,
// itemAttributeCounts, sequenceLengths}), checked and copied. Of several
// problems, the one at the lowest attribute is reported (a name before a
// weight).
PackedSequences PackedFromObject(Napi::Env env, Napi::Value v, const std::string& where) {
  if (!v.IsObject() || v.IsArray()) ThrowItems(env, where, "a PackedSequences object");
  Napi::Object o = v.As<Napi::Object>();
  auto [names, names_len] =
      TypedField<uint8_t>(env, o, where, "attributeNames", napi_uint8_array, "a Uint8Array (NUL-terminated UTF-8 names)");
  auto [counts, num_items] = TypedField<uint32_t>(env, o, where, "itemAttributeCounts", napi_uint32_array, "a Uint32Array");
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
  const uint64_t bad_name = split == NulSplit::kOk ? total_attrs + 1 : split == NulSplit::kTrailing ? total_attrs : index;
  for (uint64_t a = 0; a < std::min<uint64_t>(num_weights, bad_name); ++a) {
    if (!std::isfinite(weights[a])) {
      fail("attributeWeights", AttributePosition(lengths, num_seqs, counts, a) + " is not finite");
    }
  }
  if (split == NulSplit::kTooFew) {
    fail("attributeNames", "holds " + std::to_string(index) + " NUL-terminated names, itemAttributeCounts add up to " +
                               std::to_string(total_attrs));
  }
  if (split == NulSplit::kEmpty) fail("attributeNames", AttributePosition(lengths, num_seqs, counts, index) + " has an empty name");
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

// Owns a crfsuite_instance_t.
struct Instance {
  crfsuite_instance_t inst;
  Instance() { crfsuite_instance_init(&inst); }
  ~Instance() { crfsuite_instance_finish(&inst); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
};

// Owns a reference to a trainer's parameter object.
struct ParamsRef {
  crfsuite_params_t* p;
  explicit ParamsRef(crfsuite_trainer_t* tr) : p(tr->params(tr)) {}
  ~ParamsRef() {
    if (p != nullptr) p->release(p);
  }
  ParamsRef(const ParamsRef&) = delete;
  ParamsRef& operator=(const ParamsRef&) = delete;
};

// A string allocated by a params object.
struct ParamsString {
  crfsuite_params_t* p;
  char* s = nullptr;
  explicit ParamsString(crfsuite_params_t* params) : p(params) {}
  ~ParamsString() {
    if (s != nullptr) p->free(p, s);
  }
  ParamsString(const ParamsString&) = delete;
  ParamsString& operator=(const ParamsString&) = delete;
};

// ----- model validation -----------------------------------------------------
//
// CRFsuite trusts every offset and count in a model image. These checks cover
// everything the model reader and the tagger dereference, so that random bytes,
// truncated files and inconsistent tables are rejected before CRFsuite sees them.

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
  bool CString(uint64_t off, uint64_t end) const {
    return off < end && std::memchr(p_ + off, 0, end - off) != nullptr;
  }

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

// ----- training ------------------------------------------------------------

const char* CrfAlgorithmId(const std::string& name) {
  if (name == "lbfgs") return "lbfgs";
  if (name == "l2sgd") return "l2sgd";
  if (name == "ap") return "averaged-perceptron";
  if (name == "pa") return "passive-aggressive";
  if (name == "arow") return "arow";
  return nullptr;
}

bool StatFile(const std::string& file, struct stat* st) { return ::stat(file.c_str(), st) == 0; }

// One training run: inputs prepared on the main thread, outputs set on the pool.
struct TrainOp {
  CrfTrainer* trainer = nullptr;
  std::string file;
  int holdout = -1;
  bool had_file = false;  // whether `file` existed before training, and its stat
  struct stat before {};
  int status = 0;
  std::string err;
  const char* code = kInternal;
};

// The CRFsuite training worker: runs a TrainOp on the pool, forwards log lines
// through the progress queue (in order; all are delivered before OnOK/OnError).
class TrainWorker final : public Napi::AsyncProgressQueueWorker<std::string> {
 public:
  TrainWorker(Napi::Env env, TrainOp&& op, Napi::Function on_log)
      : Napi::AsyncProgressQueueWorker<std::string>(env, "mlbridge.CrfTrainer.train"),
        op_(std::move(op)),
        trainer_(op_.trainer),
        deferred_(Napi::Promise::Deferred::New(env)) {
    if (!on_log.IsEmpty()) on_log_ = Napi::Persistent(on_log);
    op_.had_file = !op_.file.empty() && StatFile(op_.file, &op_.before);
  }

  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    trainer_->cancelled().store(false);
    trainer_->set_training(true);
    trainer_->BeginWork();
    Queue();
    return p;
  }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    progress_ = &progress;
    crfsuite_trainer_t* tr = trainer_->trainer();
    try {
      tr->set_message_callback(tr, this, &TrainWorker::LogThunk);
      op_.status = tr->train(tr, trainer_->data(), op_.file.c_str(), op_.holdout);
      tr->set_message_callback(tr, nullptr, nullptr);
      if (!partial_.empty()) {
        Emit(partial_);
        partial_.clear();
      }
      if (trainer_->cancelled().load()) {
        Fail(kCancelled, "training cancelled");
      } else if (op_.status == 0 && !op_.file.empty() && !Written()) {
        Fail(kCrfsuiteError, "crfsuite trainer->train() did not write the model file \"" + op_.file + "\"");
      }
    } catch (const std::exception& e) {
      tr->set_message_callback(tr, nullptr, nullptr);
      Fail(kInternal, std::string("internal error: ") + e.what());
    } catch (...) {
      tr->set_message_callback(tr, nullptr, nullptr);
      Fail(kInternal, "internal error: unknown exception");
    }
    progress_ = nullptr;
  }

  void OnProgress(const std::string* lines, size_t count) override {
    if (on_log_.IsEmpty() || !log_error_.IsEmpty() || trainer_->cancelled().load()) return;
    Napi::Env env = Env();
    for (size_t k = 0; k < count; ++k) {
      try {
        on_log_.Call({Napi::String::New(env, lines[k])});
      } catch (const Napi::Error& e) {
        log_error_ = Napi::Persistent(e.Value());
        return;
      }
      if (trainer_->cancelled().load()) return;
    }
  }

  void OnOK() override {
    // cancel() may come after the library returned but before this runs: the
    // promise still rejects, as cancel() was called before it settled.
    const bool cancelled = trainer_->cancelled().load();
    Finish();
    if (cancelled) {
      MLB_REJECT(deferred_, kCancelled, "training cancelled");
      return;
    }
    if (!log_error_.IsEmpty()) {
      deferred_.Reject(log_error_.Value());
      return;
    }
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("status", Napi::Number::New(env, op_.status));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error&) override {
    Finish();
    MLB_REJECT(deferred_, op_.code, op_.err);
  }

 private:
  // CRFsuite's logging callback (pool thread).
  static int LogThunk(void* user, const char* format, va_list args) {
    auto* self = static_cast<TrainWorker*>(user);
    try {
      va_list copy;
      va_copy(copy, args);
      char buf[1024];
      const int n = std::vsnprintf(buf, sizeof(buf), format, args);
      if (n < 0) {
        va_end(copy);
        return 0;
      }
      if (static_cast<size_t>(n) < sizeof(buf)) {
        self->Append(buf, static_cast<size_t>(n));
      } else {
        std::string big(static_cast<size_t>(n) + 1, '\0');
        std::vsnprintf(&big[0], big.size(), format, copy);
        self->Append(big.data(), static_cast<size_t>(n));
      }
      va_end(copy);
    } catch (...) {
      // Never let an exception cross into C.
    }
    return 0;
  }

  // Splits text into lines; complete lines are queued (pool thread).
  void Append(const char* text, size_t len) {
    if (trainer_->cancelled().load()) return;
    std::vector<std::string> lines;
    for (size_t i = 0; i < len; ++i) {
      if (text[i] == '\n') {
        if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
        lines.push_back(std::move(partial_));
        partial_.clear();
      } else {
        partial_.push_back(text[i]);
      }
    }
    if (!lines.empty() && progress_ != nullptr) progress_->Send(lines.data(), lines.size());
  }

  void Emit(const std::string& line) {
    if (progress_ != nullptr && !trainer_->cancelled().load()) progress_->Send(&line, 1);
  }

  void Fail(const char* code, std::string message) {
    op_.code = code;
    op_.err = std::move(message);
    SetError(op_.err);
  }

  // Whether train() wrote the model file (CRFsuite ignores write failures).
  bool Written() const {
    struct stat after;
    if (!StatFile(op_.file, &after)) return false;
    if (!op_.had_file) return true;
    const struct stat& b = op_.before;
    return after.st_ino != b.st_ino || after.st_size != b.st_size || after.st_mtim.tv_sec != b.st_mtim.tv_sec ||
           after.st_mtim.tv_nsec != b.st_mtim.tv_nsec;
  }

  void Finish() {
    trainer_->set_training(false);
    trainer_->EndWork();
  }

  TrainOp op_;
  CrfTrainer* trainer_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_log_;
  Napi::ObjectReference log_error_;
  const ExecutionProgress* progress_ = nullptr;
  std::string partial_;
};

}  // namespace

// ----- model state and tagging ----------------------------------------------

struct CrfModelState {
  std::vector<uint8_t> bytes;  // the model image; must outlive `model`
  crfsuite_model_t* model = nullptr;
  crfsuite_tagger_t* tagger = nullptr;
  crfsuite_dictionary_t* attrs = nullptr;   // owned by model
  crfsuite_dictionary_t* labels = nullptr;  // owned by model
  std::vector<std::string> label_names;
  int num_labels = 0;
  int num_attrs = 0;
  std::mutex mu;  // held around every use of `tagger`

  CrfModelState() = default;
  CrfModelState(const CrfModelState&) = delete;
  CrfModelState& operator=(const CrfModelState&) = delete;
  ~CrfModelState() {
    if (tagger != nullptr) tagger->release(tagger);
    if (model != nullptr) model->release(model);
    // `bytes` is destroyed after this body: after the model is gone.
  }
};

namespace {

// Fills `inst` with the attributes of sequence `s` known to the model (others are dropped).
void BuildInstance(CrfModelState& st, const PackedSequences& p, size_t s, crfsuite_instance_t* inst) {
  FillInstance(p, s, inst, [&](const char* name) {
    const int aid = st.attrs->to_id(st.attrs, name);
    return aid < st.num_attrs ? aid : -1;
  });
}

// Results of tagging packed sequences, flat: one path entry per item.
struct TagOut {
  std::vector<int32_t> paths;         // per item
  std::vector<double> probabilities;  // per sequence, when asked
  std::vector<double> marginals;      // per item x label, when asked

  void Resize(const PackedSequences& p, int num_labels, bool want_prob, bool want_marg) {
    paths.assign(p.items(), 0);
    probabilities.assign(want_prob ? p.size() : 0, 1.0);
    marginals.assign(want_marg ? p.items() * static_cast<size_t>(num_labels) : 0, 0.0);
  }
};

// Tags sequence `s` of `p` into `out` (sized by Resize). Caller holds st.mu.
// Returns "" or an error message.
std::string TagLocked(CrfModelState& st, const PackedSequences& p, size_t s, TagOut* out) {
  const int T = static_cast<int>(p.length(s));
  const int L = st.num_labels;
  if (T == 0) return std::string();
  const size_t first = p.seq_start[s];
  int* path = out->paths.data() + first;
  Instance in;
  BuildInstance(st, p, s, &in.inst);
  crfsuite_tagger_t* tg = st.tagger;
  int rc = tg->set(tg, &in.inst);
  if (rc != 0) return RcMessage("tagger->set()", rc);
  floatval_t score = 0;
  rc = tg->viterbi(tg, path, &score);
  if (rc != 0) return RcMessage("tagger->viterbi()", rc);
  for (int t = 0; t < T; ++t) {
    if (path[t] < 0 || path[t] >= L) return "crfsuite tagger->viterbi() returned an invalid label";
  }
  if (!out->probabilities.empty()) {
    floatval_t norm = 0;
    rc = tg->lognorm(tg, &norm);
    if (rc != 0) return RcMessage("tagger->lognorm()", rc);
    out->probabilities[s] = std::exp(score - norm);
  }
  if (!out->marginals.empty()) {
    double* m = out->marginals.data() + first * L;
    for (int t = 0; t < T; ++t) {
      for (int l = 0; l < L; ++l) {
        floatval_t v = 0;
        rc = tg->marginal_point(tg, l, t, &v);
        if (rc != 0) return RcMessage("tagger->marginal_point()", rc);
        m[static_cast<size_t>(t) * L + l] = v;
      }
    }
  }
  return std::string();
}

// Tags every sequence of `p`, taking st.mu per sequence (so a sync tag() can
// interleave with a running batch). Returns "" or an error message.
std::string TagAll(CrfModelState& st, const PackedSequences& p, TagOut* out) {
  for (size_t s = 0; s < p.size(); ++s) {
    std::lock_guard<std::mutex> lock(st.mu);
    std::string err = TagLocked(st, p, s, out);
    if (!err.empty()) return err;
  }
  return std::string();
}

// {labels, probability?, marginals?} of a single sequence (tag()).
Napi::Object TagResult(Napi::Env env, const CrfModelState& st, const TagOut& r, bool want_prob, bool want_marg) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array labels = Napi::Array::New(env, r.paths.size());
  for (size_t t = 0; t < r.paths.size(); ++t) {
    labels.Set(static_cast<uint32_t>(t), Napi::String::New(env, st.label_names[r.paths[t]]));
  }
  o.Set("labels", labels);
  if (want_prob) o.Set("probability", Napi::Number::New(env, r.probabilities[0]));
  if (want_marg) {
    Napi::Float64Array m = Napi::Float64Array::New(env, r.marginals.size());
    if (!r.marginals.empty()) std::memcpy(m.Data(), r.marginals.data(), r.marginals.size() * sizeof(double));
    o.Set("marginals", m);
  }
  return o;
}

template <typename T, typename Array>
Array CopyOut(Napi::Env env, const std::vector<T>& v) {
  Array a = Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

// {paths, probabilities?, marginals?} of packed sequences (tagPacked()).
Napi::Object PackedTagResult(Napi::Env env, const TagOut& r, bool want_prob, bool want_marg) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("paths", CopyOut<int32_t, Napi::Int32Array>(env, r.paths));
  if (want_prob) o.Set("probabilities", CopyOut<double, Napi::Float64Array>(env, r.probabilities));
  if (want_marg) o.Set("marginals", CopyOut<double, Napi::Float64Array>(env, r.marginals));
  return o;
}

void CheckLengths(Napi::Env env, const CrfModelState& st, const PackedSequences& p, const std::string& where) {
  for (size_t s = 0; s < p.size(); ++s) {
    if (static_cast<int64_t>(p.length(s)) * st.num_labels > kMaxItemsTimesLabels) {
      MLB_THROW(env, kInvalidArgument,
                where + ": sequence " + std::to_string(s) + " is too long (" + std::to_string(p.length(s)) + " items)");
    }
  }
}

struct TagPackedOp {
  CrfModelState* state = nullptr;
  PackedSequences packed;
  bool want_prob = false;
  bool want_marg = false;
  TagOut results;
  std::string err;
  const char* code = kCrfsuiteError;

  void Execute() { err = TagAll(*state, packed, &results); }
  Napi::Value Result(Napi::Env env) { return PackedTagResult(env, results, want_prob, want_marg); }
};

// The work of a tag/tagPacked/tagPackedAsync call on `packed`: arguments 2
// and 3 (probability, marginals) read, lengths checked, results sized.
TagPackedOp MakeTagOp(Napi::Env env, const Napi::CallbackInfo& info, CrfModelState* st, PackedSequences&& packed,
                      const std::string& where) {
  TagPackedOp op;
  op.state = st;
  op.packed = std::move(packed);
  op.want_prob = ArgBool(info, 1, "probability");
  op.want_marg = ArgBool(info, 2, "marginals");
  CheckLengths(env, *st, op.packed, where);
  op.results.Resize(op.packed, st->num_labels, op.want_prob, op.want_marg);
  return op;
}

thread_local CrfModelState* g_pending_state = nullptr;

}  // namespace

std::string CrfsuiteVersion() { return CRFSUITE_VERSION; }

void InitCrfsuite(Napi::Env env, Napi::Object exports) {
  exports.Set("CrfTrainer", CrfTrainer::Define(env));
  Napi::Function tagger = CrfTagger::Define(env);
  env.GetInstanceData<AddonData>()->crf_tagger_ctor = Napi::Persistent(tagger);
  exports.Set("CrfTagger", tagger);
}

// ----- CrfTrainer -------------------------------------------------------------

Napi::Function CrfTrainer::Define(Napi::Env env) {
  return DefineClass(env, "CrfTrainer",
                     {
                         InstanceMethod<&CrfTrainer::Params>("params"),
                         InstanceMethod<&CrfTrainer::Set>("set"),
                         InstanceMethod<&CrfTrainer::Get>("get"),
                         InstanceMethod<&CrfTrainer::Help>("help"),
                         InstanceMethod<&CrfTrainer::Append>("append"),
                         InstanceMethod<&CrfTrainer::AppendPacked>("appendPacked"),
                         InstanceMethod<&CrfTrainer::Clear>("clear"),
                         InstanceMethod<&CrfTrainer::Train>("train"),
                         InstanceMethod<&CrfTrainer::Cancel>("cancel"),
                         InstanceMethod("dispose", &CrfTrainer::Dispose),
                     });
}

CrfTrainer::CrfTrainer(const Napi::CallbackInfo& info) : Handle<CrfTrainer>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) MLB_THROW(env, kInvalidArgument, "CrfTrainer must be called with new");
  const std::string algorithm = ArgString(info, 0, "algorithm");
  const char* id = CrfAlgorithmId(algorithm);
  if (id == nullptr) {
    MLB_THROW(env, kInvalidArgument,
              "argument 1 (algorithm) must be one of \"lbfgs\", \"l2sgd\", \"ap\", \"pa\", \"arow\"; got \"" + algorithm +
                  "\"");
  }
  crfsuite_data_init(&data_);
  const std::string iid = std::string("train/crf1d/") + id;
  // crfsuite_create_instance returns non-zero on success.
  if (!crfsuite_create_instance(iid.c_str(), reinterpret_cast<void**>(&trainer_)) || trainer_ == nullptr) {
    trainer_ = nullptr;
    MLB_THROW(env, kCrfsuiteError, "crfsuite_create_instance(\"" + iid + "\") failed");
  }
  trainer_->set_message_callback(trainer_, nullptr, nullptr);
  ResetData();
  if (!data_ready_) {
    FreeNative();
    MLB_THROW(env, kCrfsuiteError, "crfsuite_create_instance(\"dictionary\") failed");
  }
}

CrfTrainer::~CrfTrainer() {
  if (active_ == 0) FreeNative();  // else: env teardown with a worker in flight; leak rather than race
}

void CrfTrainer::ResetData() {
  if (data_.labels != nullptr) data_.labels->release(data_.labels);
  if (data_.attrs != nullptr) data_.attrs->release(data_.attrs);
  data_.labels = nullptr;
  data_.attrs = nullptr;
  crfsuite_data_finish(&data_);  // also re-initialises data_
  data_ready_ = crfsuite_create_instance("dictionary", reinterpret_cast<void**>(&data_.attrs)) &&
                crfsuite_create_instance("dictionary", reinterpret_cast<void**>(&data_.labels));
}

void CrfTrainer::FreeNative() {
  if (data_.labels != nullptr) data_.labels->release(data_.labels);
  if (data_.attrs != nullptr) data_.attrs->release(data_.attrs);
  data_.labels = nullptr;
  data_.attrs = nullptr;
  crfsuite_data_finish(&data_);
  data_ready_ = false;
  if (trainer_ != nullptr) {
    trainer_->release(trainer_);
    trainer_ = nullptr;
  }
}

void CrfTrainer::CheckIdle(Napi::Env env) const {
  if (training_) MLB_THROW(env, kBusy, "CrfTrainer is training");
}

Napi::Value CrfTrainer::Params(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  ParamsRef params(trainer_);
  crfsuite_params_t* p = params.p;
  const int n = p->num(p);
  Napi::Array out = Napi::Array::New(env, n);
  for (int i = 0; i < n; ++i) {
    ParamsString name(p);
    const int rc = p->name(p, i, &name.s);
    if (rc != 0 || name.s == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage("params->name(" + std::to_string(i) + ")", rc));
    out.Set(static_cast<uint32_t>(i), Napi::String::New(env, name.s));
  }
  return out;
}

Napi::Value CrfTrainer::Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  const std::string name = ArgString(info, 0, "name");
  const std::string value = ArgString(info, 1, "value");
  CheckIdle(env);
  ParamsRef params(trainer_);
  crfsuite_params_t* p = params.p;
  const std::string call = "params->set(\"" + name + "\", \"" + value + "\")";
  ParamsString type(p);
  int rc = p->help(p, name.c_str(), &type.s, nullptr);
  if (rc != 0 || type.s == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage(call, rc, "unknown parameter"));
  // CRFsuite parses with atoi/atof and never fails: check the value first.
  const char* s = value.c_str();
  char* end = nullptr;
  errno = 0;
  if (std::strcmp(type.s, "int") == 0) {
    const long long v = std::strtoll(s, &end, 10);
    while (end && *end == ' ') ++end;
    if (value.empty() || end == s || *end != '\0' || errno == ERANGE || v < std::numeric_limits<int>::min() ||
        v > std::numeric_limits<int>::max()) {
      MLB_THROW(env, kCrfsuiteError, "crfsuite " + call + " rejected: not an int");
    }
  } else if (std::strcmp(type.s, "float") == 0) {
    const double v = std::strtod(s, &end);
    while (end && *end == ' ') ++end;
    if (value.empty() || end == s || *end != '\0' || !std::isfinite(v)) {
      MLB_THROW(env, kCrfsuiteError, "crfsuite " + call + " rejected: not a finite float");
    }
  }
  rc = p->set(p, name.c_str(), value.c_str());
  if (rc != 0) MLB_THROW(env, kCrfsuiteError, RcMessage(call, rc));
  return env.Undefined();
}

Napi::Value CrfTrainer::Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  const std::string name = ArgString(info, 0, "name");
  ParamsRef params(trainer_);
  ParamsString value(params.p);
  const int rc = params.p->get(params.p, name.c_str(), &value.s);
  if (rc != 0 || value.s == nullptr) {
    MLB_THROW(env, kCrfsuiteError, RcMessage("params->get(\"" + name + "\")", rc, "unknown parameter"));
  }
  return Napi::String::New(env, value.s);
}

Napi::Value CrfTrainer::Help(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  const std::string name = ArgString(info, 0, "name");
  ParamsRef params(trainer_);
  ParamsString type(params.p), help(params.p);
  const int rc = params.p->help(params.p, name.c_str(), &type.s, &help.s);
  if (rc != 0 || type.s == nullptr) {
    MLB_THROW(env, kCrfsuiteError, RcMessage("params->help(\"" + name + "\")", rc, "unknown parameter"));
  }
  return Napi::String::New(env, std::string(type.s) + ": " + (help.s ? help.s : ""));
}

Napi::Value CrfTrainer::Append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  if (info.Length() < 1) ThrowArg(env, 0, "items", "an array of items");
  const PackedSequences seq = PackedFromArrays(env, info[0], ArgLabel(0, "items"));
  const std::vector<std::string> labels = ArgStringArray(info, 1, "labels");
  const int group = static_cast<int>(ArgInteger(info, 2, "group", 0, std::numeric_limits<int>::max()));
  if (seq.items() == 0) MLB_THROW(env, kInvalidArgument, "argument 1 (items) must not be empty");
  if (labels.size() != seq.items()) {
    MLB_THROW(env, kInvalidArgument,
              "argument 2 (labels) must have one label per item: " + std::to_string(seq.items()) + " items, " +
                  std::to_string(labels.size()) + " labels");
  }
  std::vector<const char*> label_ptrs;
  label_ptrs.reserve(labels.size());
  for (const std::string& l : labels) label_ptrs.push_back(l.c_str());
  AppendData(env, seq, label_ptrs, group);
  return env.Undefined();
}

Napi::Value CrfTrainer::AppendPacked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  if (info.Length() < 1) ThrowArg(env, 0, "packed", "a PackedSequences object");
  const PackedSequences packed = PackedFromObject(env, info[0], "packed");
  auto [labels, labels_len] = ArgBytes(info, 1, "labels");
  const int group = static_cast<int>(ArgInteger(info, 2, "group", 0, std::numeric_limits<int>::max()));
  const char* base = reinterpret_cast<const char*>(labels);
  std::vector<uint32_t> label_at;
  size_t index = 0;
  switch (SplitNulTerminated(base, labels_len, packed.items(), &label_at, &index)) {
    case NulSplit::kOk:
      break;
    case NulSplit::kTooFew:
      MLB_THROW(env, kInvalidArgument, "labels holds " + std::to_string(index) + " NUL-terminated labels, expected " +
                                           std::to_string(packed.items()) + " (one per item)");
    case NulSplit::kEmpty:
      MLB_THROW(env, kInvalidArgument, "labels: label " + std::to_string(index) + " is empty");
    case NulSplit::kTrailing:
      MLB_THROW(env, kInvalidArgument, "labels has " + std::to_string(index) + " bytes after the " +
                                           std::to_string(packed.items()) + " labels");
  }
  std::vector<const char*> label_ptrs;
  label_ptrs.reserve(label_at.size());
  for (uint32_t at : label_at) label_ptrs.push_back(base + at);
  for (size_t s = 0; s < packed.size(); ++s) {
    if (packed.length(s) == 0) {
      MLB_THROW(env, kInvalidArgument, "packed.sequenceLengths: sequence " + std::to_string(s) + " is empty");
    }
  }
  AppendData(env, packed, label_ptrs, group);
  return env.Undefined();
}

void CrfTrainer::AppendData(Napi::Env env, const PackedSequences& packed, const std::vector<const char*>& labels,
                            int group) {
  if (packed.items() > static_cast<size_t>(std::numeric_limits<int>::max() / 2)) {
    MLB_THROW(env, kInvalidArgument, "too many items");
  }
  CheckIdle(env);
  if (!data_ready_) MLB_THROW(env, kCrfsuiteError, "crfsuite dictionaries are not available");
  for (size_t s = 0; s < packed.size(); ++s) {
    Instance in;
    FillInstance(packed, s, &in.inst, [&](const char* name) {
      const int aid = data_.attrs->get(data_.attrs, name);
      if (aid < 0) MLB_THROW(env, kCrfsuiteError, RcMessage("attrs->get()", aid));
      return aid;
    });
    const uint32_t first = packed.seq_start[s];
    for (uint32_t t = 0; t < packed.length(s); ++t) {
      const int lid = data_.labels->get(data_.labels, labels[first + t]);
      if (lid < 0) MLB_THROW(env, kCrfsuiteError, RcMessage("labels->get()", lid));
      in.inst.labels[t] = lid;
    }
    in.inst.group = group;
    const int rc = crfsuite_data_append(&data_, &in.inst);
    if (rc != 0) MLB_THROW(env, kCrfsuiteError, RcMessage("crfsuite_data_append()", rc));
  }
}

Napi::Value CrfTrainer::Clear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  CheckIdle(env);
  ResetData();
  if (!data_ready_) MLB_THROW(env, kCrfsuiteError, "crfsuite_create_instance(\"dictionary\") failed");
  return env.Undefined();
}

Napi::Value CrfTrainer::Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  std::string file = ArgString(info, 0, "modelFile");
  const int holdout = static_cast<int>(ArgInteger(info, 1, "holdout", -1, std::numeric_limits<int>::max()));
  Napi::Function on_log;
  if (info.Length() > 2 && info[2].IsFunction()) {
    on_log = info[2].As<Napi::Function>();
  } else if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
    ThrowArg(env, 2, "onLog", "a function");
  }
  CheckIdle(env);
  if (!data_ready_ || data_.num_instances == 0) {
    MLB_THROW(env, kInvalidArgument, "no training data: call append() before train()");
  }
  int train_count = 0;
  for (int i = 0; i < data_.num_instances; ++i) {
    if (data_.instances[i].group != holdout) ++train_count;
  }
  if (train_count == 0) MLB_THROW(env, kInvalidArgument, "no training data outside the holdout group");
  TrainOp op;
  op.trainer = this;
  op.file = std::move(file);
  op.holdout = holdout;
  auto* worker = new TrainWorker(env, std::move(op), on_log);
  return worker->Start();
}

Napi::Value CrfTrainer::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTrainer");
  if (training_) cancelled_.store(true);
  return env.Undefined();
}

// ----- CrfTagger ----------------------------------------------------------------

Napi::Function CrfTagger::Define(Napi::Env env) {
  return DefineClass(env, "CrfTagger",
                     {
                         StaticMethod<&CrfTagger::FromFile>("fromFile"),
                         StaticMethod<&CrfTagger::FromBuffer>("fromBuffer"),
                         InstanceMethod<&CrfTagger::Labels>("labels"),
                         InstanceMethod<&CrfTagger::Attributes>("attributes"),
                         InstanceMethod<&CrfTagger::Tag>("tag"),
                         InstanceMethod<&CrfTagger::TagPacked>("tagPacked"),
                         InstanceMethod<&CrfTagger::TagPackedAsync>("tagPackedAsync"),
                         InstanceMethod<&CrfTagger::Probability>("probability"),
                         InstanceMethod("dispose", &CrfTagger::Dispose),
                     });
}

CrfTagger::CrfTagger(const Napi::CallbackInfo& info) : Handle<CrfTagger>(info) {
  Napi::Env env = info.Env();
  CrfModelState* pending = g_pending_state;
  if (!info.IsConstructCall() || info.Length() != 1 || !info[0].IsExternal() || pending == nullptr ||
      info[0].As<Napi::External<CrfModelState>>().Data() != pending) {
    MLB_THROW(env, kInvalidArgument, "use CrfTagger.fromFile() or CrfTagger.fromBuffer()");
  }
  info.This().As<Napi::Object>().TypeTag(&kTag);
  g_pending_state = nullptr;
  state_.reset(pending);  // ownership taken last: nothing below can throw
}

CrfTagger::~CrfTagger() {
  if (active_ == 0) FreeNative();  // else: env teardown with a worker in flight; leak rather than race
  else (void)state_.release();
}

void CrfTagger::FreeNative() { state_.reset(); }

Napi::Value CrfTagger::Open(Napi::Env env, std::vector<uint8_t>&& bytes, const std::string& source) {
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    MLB_THROW(env, kCrfsuiteError, "crfsuite model " + source + " is too large");
  }
  std::string why;
  if (!ModelChecker(bytes.data(), bytes.size()).Validate(&why)) {
    MLB_THROW(env, kCrfsuiteError, "crfsuite_create_instance_from_memory() refused " + source + ": " + why);
  }
  auto st = std::make_unique<CrfModelState>();
  st->bytes = std::move(bytes);
  // The declared model size (validated: <= bytes.size()).
  const uint32_t size = static_cast<uint32_t>(st->bytes[4]) | (static_cast<uint32_t>(st->bytes[5]) << 8) |
         (static_cast<uint32_t>(st->bytes[6]) << 16) | (static_cast<uint32_t>(st->bytes[7]) << 24);
  int rc = crfsuite_create_instance_from_memory(st->bytes.data(), size, reinterpret_cast<void**>(&st->model));
  if (rc != 0 || st->model == nullptr) {
    st->model = nullptr;
    MLB_THROW(env, kCrfsuiteError, RcMessage("crfsuite_create_instance_from_memory()", rc, source));
  }
  rc = st->model->get_tagger(st->model, &st->tagger);
  if (rc != 0 || st->tagger == nullptr) {
    st->tagger = nullptr;
    MLB_THROW(env, kCrfsuiteError, RcMessage("model->get_tagger()", rc));
  }
  rc = st->model->get_labels(st->model, &st->labels);
  if (rc != 0 || st->labels == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage("model->get_labels()", rc));
  rc = st->model->get_attrs(st->model, &st->attrs);
  if (rc != 0 || st->attrs == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage("model->get_attrs()", rc));
  st->num_labels = st->labels->num(st->labels);
  st->num_attrs = st->attrs->num(st->attrs);
  st->label_names.reserve(st->num_labels);
  for (int l = 0; l < st->num_labels; ++l) {
    const char* s = nullptr;
    rc = st->labels->to_string(st->labels, l, &s);
    if (rc != 0 || s == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage("labels->to_string()", rc));
    st->label_names.emplace_back(s);
    st->labels->free(st->labels, s);
  }

  Napi::FunctionReference& ctor = env.GetInstanceData<AddonData>()->crf_tagger_ctor;
  g_pending_state = st.get();
  Napi::Object obj;
  try {
    obj = ctor.New({Napi::External<CrfModelState>::New(env, st.get())});
  } catch (...) {
    // The constructor takes ownership only as its very last step.
    if (g_pending_state == nullptr) (void)st.release();
    g_pending_state = nullptr;
    throw;
  }
  g_pending_state = nullptr;
  (void)st.release();  // owned by the new CrfTagger
  return obj;
}

Napi::Value CrfTagger::FromFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string file = ArgString(info, 0, "file");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    MLB_THROW(env, kCrfsuiteError,
              "crfsuite_create_instance_from_file(\"" + file + "\") failed: cannot open the file (" +
                  std::strerror(errno) + ")");
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    MLB_THROW(env, kCrfsuiteError, "crfsuite_create_instance_from_file(\"" + file + "\") failed: read error");
  }
  return Open(env, std::move(bytes), "file \"" + file + "\"");
}

Napi::Value CrfTagger::FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [data, len] = ArgBytes(info, 0, "data");
  std::vector<uint8_t> bytes(data, data + len);  // CRFsuite does not copy: we own this copy
  return Open(env, std::move(bytes), "buffer");
}

Napi::Value CrfTagger::Labels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTagger");
  const auto& names = state_->label_names;
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return out;
}

Napi::Value CrfTagger::Attributes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTagger");
  crfsuite_dictionary_t* attrs = state_->attrs;  // read-only over immutable bytes: no lock needed
  Napi::Array out = Napi::Array::New(env, state_->num_attrs);
  for (int i = 0; i < state_->num_attrs; ++i) {
    const char* s = nullptr;
    const int rc = attrs->to_string(attrs, i, &s);
    if (rc != 0 || s == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage("attrs->to_string()", rc));
    out.Set(static_cast<uint32_t>(i), Napi::String::New(env, s));
    attrs->free(attrs, s);
  }
  return out;
}

Napi::Value CrfTagger::Tag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTagger");
  if (info.Length() < 1) ThrowArg(env, 0, "items", "an array of items");
  const std::string where = ArgLabel(0, "items");
  TagPackedOp op = MakeTagOp(env, info, state_.get(), PackedFromArrays(env, info[0], where), where);
  op.Execute();
  if (!op.err.empty()) MLB_THROW(env, op.code, op.err);
  return TagResult(env, *state_, op.results, op.want_prob, op.want_marg);
}

Napi::Value CrfTagger::TagPacked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTagger");
  if (info.Length() < 1) ThrowArg(env, 0, "packed", "a PackedSequences object");
  TagPackedOp op = MakeTagOp(env, info, state_.get(), PackedFromObject(env, info[0], "packed"), "packed");
  op.Execute();
  if (!op.err.empty()) MLB_THROW(env, op.code, op.err);
  return op.Result(env);
}

Napi::Value CrfTagger::TagPackedAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTagger");
  if (info.Length() < 1) ThrowArg(env, 0, "packed", "a PackedSequences object");
  TagPackedOp op = MakeTagOp(env, info, state_.get(), PackedFromObject(env, info[0], "packed"), "packed");
  return PromiseWorker<TagPackedOp>::Start(env, "mlbridge.CrfTagger.tagPackedAsync", std::move(op), {this});
}

Napi::Value CrfTagger::Probability(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env, "CrfTagger");
  if (info.Length() < 1) ThrowArg(env, 0, "items", "an array of items");
  const PackedSequences seq = PackedFromArrays(env, info[0], ArgLabel(0, "items"));
  const std::vector<std::string> labels = ArgStringArray(info, 1, "labels");
  if (labels.size() != seq.items()) {
    MLB_THROW(env, kInvalidArgument,
              "argument 2 (labels) must have one label per item: " + std::to_string(seq.items()) + " items, " +
                  std::to_string(labels.size()) + " labels");
  }
  CheckLengths(env, *state_, seq, ArgLabel(0, "items"));
  CrfModelState& st = *state_;
  std::vector<int> path(labels.size());
  for (size_t t = 0; t < labels.size(); ++t) {
    const int lid = st.labels->to_id(st.labels, labels[t].c_str());
    if (lid < 0 || lid >= st.num_labels) {
      MLB_THROW(env, kInvalidArgument, "argument 2 (labels)[" + std::to_string(t) + "]: \"" + labels[t] +
                                           "\" is not a label of the model");
    }
    path[t] = lid;
  }
  if (seq.items() == 0) return Napi::Number::New(env, 1.0);
  std::string err;
  double prob = 0;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    Instance in;
    BuildInstance(st, seq, 0, &in.inst);
    crfsuite_tagger_t* tg = st.tagger;
    floatval_t score = 0, norm = 0;
    int rc = tg->set(tg, &in.inst);
    if (rc != 0) err = RcMessage("tagger->set()", rc);
    if (err.empty() && (rc = tg->score(tg, path.data(), &score)) != 0) err = RcMessage("tagger->score()", rc);
    if (err.empty() && (rc = tg->lognorm(tg, &norm)) != 0) err = RcMessage("tagger->lognorm()", rc);
    prob = std::exp(score - norm);
  }
  if (!err.empty()) MLB_THROW(env, kCrfsuiteError, err);
  return Napi::Number::New(env, prob);
}

}  // namespace mlbridge
