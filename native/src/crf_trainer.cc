// CrfTrainer and its training worker. See crf_trainer.h for the contract of every method.
#include "crf_trainer.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "crf_threads.h"
#include "crfsuite.h"

namespace mlbridge {

using crf::FillInstance;
using crf::Instance;
using crf::NulSplit;
using crf::PackedFromObject;
using crf::RcMessage;
using crf::SplitNulTerminated;

namespace {

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
      if (const char* threads_error = mlbridge_crf_threads_error(tr)) {
        Fail(kCrfsuiteError, std::string("crfsuite training failed: ") + threads_error);
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
    if (on_log_.IsEmpty() || !log_error_.IsEmpty()) return;
    Napi::Env env = Env();
    for (size_t k = 0; k < count; ++k) {
      try {
        on_log_.Call({Napi::String::New(env, lines[k])});
      } catch (const Napi::Error& e) {
        log_error_ = Napi::Persistent(e.Value());
        return;
      }
    }
  }

  void OnOK() override {
    Finish();
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
    if (progress_ != nullptr) progress_->Send(&line, 1);
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

// ----- CrfTrainer -------------------------------------------------------------

Napi::Function CrfTrainer::Define(Napi::Env env) {
  return DefineClass(env, "CrfTrainer",
                     {
                         InstanceMethod<&CrfTrainer::Params>("params"),
                         InstanceMethod<&CrfTrainer::Set>("set"),
                         InstanceMethod<&CrfTrainer::Get>("get"),
                         InstanceMethod<&CrfTrainer::Help>("help"),
                         InstanceMethod<&CrfTrainer::AppendPacked>("appendPacked"),
                         InstanceMethod<&CrfTrainer::Train>("train"),
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
              "argument 1 (algorithm) must be one of \"lbfgs\", \"l2sgd\", \"ap\", \"pa\", \"arow\"; got \"" +
                  algorithm + "\"");
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
  attr_ids_.clear();
  attr_names_.clear();
  data_ready_ = crfsuite_create_instance("dictionary", reinterpret_cast<void**>(&data_.attrs)) &&
                crfsuite_create_instance("dictionary", reinterpret_cast<void**>(&data_.labels));
}

void CrfTrainer::FreeNative() {
  if (data_.labels != nullptr) data_.labels->release(data_.labels);
  if (data_.attrs != nullptr) data_.attrs->release(data_.attrs);
  data_.labels = nullptr;
  data_.attrs = nullptr;
  crfsuite_data_finish(&data_);
  attr_ids_.clear();
  attr_names_.clear();
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
    if (rc != 0 || name.s == nullptr)
      MLB_THROW(env, kCrfsuiteError, RcMessage("params->name(" + std::to_string(i) + ")", rc));
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
      MLB_THROW(env, kInvalidArgument,
                "labels holds " + std::to_string(index) + " NUL-terminated labels, expected " +
                    std::to_string(packed.items()) + " (one per item)");
    case NulSplit::kEmpty:
      MLB_THROW(env, kInvalidArgument, "labels: label " + std::to_string(index) + " is empty");
    case NulSplit::kTrailing:
      MLB_THROW(
          env, kInvalidArgument,
          "labels has " + std::to_string(index) + " bytes after the " + std::to_string(packed.items()) + " labels");
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
      const auto hit = attr_ids_.find(std::string_view(name));
      if (hit != attr_ids_.end()) return hit->second;
      const int aid = data_.attrs->get(data_.attrs, name);
      if (aid < 0) MLB_THROW(env, kCrfsuiteError, RcMessage("attrs->get()", aid));
      attr_ids_.emplace(attr_names_.emplace_back(name), aid);
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
    MLB_THROW(env, kInvalidArgument, "no training data: call appendPacked() before train()");
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

}  // namespace mlbridge
