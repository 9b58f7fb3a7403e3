// CrfTagger: model state and tagging. See crf_tagger.h for the contract of every method.
#include "crf_tagger.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <utility>

#include "crf_model_check.h"
#include "crf_packed.h"
#include "crfsuite.h"

extern "C" {
#include <crfsuite.h>
}

namespace mlbridge {

using crf::FillInstance;
using crf::Instance;
using crf::PackedFromArrays;
using crf::PackedFromObject;
using crf::RcMessage;

const napi_type_tag CrfTagger::kTag = {0x6d6c6272696467ULL, 0x6543726654616767ULL};

// ----- model state and tagging ----------------------------------------------

struct CrfModelState {
  std::vector<uint8_t> bytes;  // the model image; must outlive `model`
  crfsuite_model_t* model = nullptr;
  crfsuite_dictionary_t* attrs = nullptr;   // owned by model
  crfsuite_dictionary_t* labels = nullptr;  // owned by model
  std::vector<std::string> label_names;
  int num_labels = 0;
  int num_attrs = 0;
  // Taggers not in use. CRFsuite's tagger is not thread-safe, but several
  // taggers over one model are (they read the model's bytes and write only
  // their own context): each caller leases one (TaggerLease), so tagging
  // calls on several threads run at once, one tagger each. The pool grows to
  // the number of callers at once (the libuv pool's threads and the main one).
  std::vector<crfsuite_tagger_t*> idle;
  std::mutex mu;  // guards `idle` and CRFsuite's reference counts (get_tagger/release; not atomic)

  CrfModelState() = default;
  CrfModelState(const CrfModelState&) = delete;
  CrfModelState& operator=(const CrfModelState&) = delete;
  ~CrfModelState() {
    for (crfsuite_tagger_t* t : idle) t->release(t);
    if (model != nullptr) model->release(model);
    // `bytes` is destroyed after this body: after the model is gone.
  }
};

namespace {

// Tagging allocates O(T*L) per sequence with int arithmetic inside CRFsuite:
// keep it far from overflow (the O(L^2) part is bounded by the model check's
// label limit, crf_model_check.cc).
constexpr int64_t kMaxItemsTimesLabels = int64_t{1} << 22;  // ~7 arrays of 32 MiB at most

// A tagger of a model for the holder's use alone; back to the pool when the lease ends.
class TaggerLease {
 public:
  explicit TaggerLease(CrfModelState& st) : st_(st) {
    std::lock_guard<std::mutex> lock(st.mu);
    if (!st.idle.empty()) {
      tagger_ = st.idle.back();
      st.idle.pop_back();
      return;
    }
    const int rc = st.model->get_tagger(st.model, &tagger_);
    if (rc != 0 || tagger_ == nullptr) {
      tagger_ = nullptr;
      error_ = RcMessage("model->get_tagger()", rc);
    }
  }
  ~TaggerLease() {
    if (tagger_ == nullptr) return;
    std::lock_guard<std::mutex> lock(st_.mu);
    try {
      st_.idle.push_back(tagger_);
    } catch (...) {
      tagger_->release(tagger_);  // no room to keep it: a later lease makes another
    }
  }
  TaggerLease(const TaggerLease&) = delete;
  TaggerLease& operator=(const TaggerLease&) = delete;

  crfsuite_tagger_t* get() const { return tagger_; }
  // "" or why no tagger could be made.
  const std::string& error() const { return error_; }

 private:
  CrfModelState& st_;
  crfsuite_tagger_t* tagger_ = nullptr;
  std::string error_;
};

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

// Tags sequence `s` of `p` into `out` (sized by Resize) with `tg`, a tagger
// the caller leased. Returns "" or an error message.
std::string TagOne(CrfModelState& st, crfsuite_tagger_t* tg, const PackedSequences& p, size_t s, TagOut* out) {
  const int T = static_cast<int>(p.length(s));
  const int L = st.num_labels;
  if (T == 0) return std::string();
  const size_t first = p.seq_start[s];
  int* path = out->paths.data() + first;
  Instance in;
  BuildInstance(st, p, s, &in.inst);
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

// Tags every sequence of `p` with one leased tagger. Returns "" or an error message.
std::string TagAll(CrfModelState& st, const PackedSequences& p, TagOut* out) {
  if (p.size() == 0) return std::string();
  TaggerLease tagger(st);
  if (tagger.get() == nullptr) return tagger.error();
  for (size_t s = 0; s < p.size(); ++s) {
    std::string err = TagOne(st, tagger.get(), p, s, out);
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
  if (!crf::ValidateModel(bytes.data(), bytes.size(), &why)) {
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
  {
    // One tagger made now: a model CRFsuite cannot tag with fails here, not at its first use.
    st->idle.reserve(8);
    crfsuite_tagger_t* first = nullptr;
    rc = st->model->get_tagger(st->model, &first);
    if (rc != 0 || first == nullptr) MLB_THROW(env, kCrfsuiteError, RcMessage("model->get_tagger()", rc));
    st->idle.push_back(first);
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
      MLB_THROW(env, kInvalidArgument,
                "argument 2 (labels)[" + std::to_string(t) + "]: \"" + labels[t] + "\" is not a label of the model");
    }
    path[t] = lid;
  }
  if (seq.items() == 0) return Napi::Number::New(env, 1.0);
  std::string err;
  double prob = 0;
  {
    TaggerLease tagger(st);
    crfsuite_tagger_t* tg = tagger.get();
    if (tg == nullptr) MLB_THROW(env, kCrfsuiteError, tagger.error());
    Instance in;
    BuildInstance(st, seq, 0, &in.inst);
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
