// lockFile / unlockFile: see filelock.h.
//
//   lockFile(path): number   [sync]
//   unlockFile(fd): void     [sync]
#include "filelock.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common.h"

namespace mlbridge {
namespace {

std::string ErrnoMessage(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

// [sync] lockFile(path): number — opens `path` (created 0600 if missing) and
//   takes an exclusive flock on it without waiting. The lock holds until
//   unlockFile(fd) or the process ends (the kernel drops it at exit, SIGKILL
//   included, so a crashed server never leaves a stale lock). Another open
//   file (in this process or another) cannot take it meanwhile.
//   Throws Error with code "LOCKED" when another holds it, "LOCK_FAILED" when
//   the file cannot be opened or locked (message names the path and errno).
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) MLB_THROW(env, kInvalidArgument, "path: expected a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) MLB_THROW(env, "LOCK_FAILED", ErrnoMessage("cannot open", path, errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) MLB_THROW(env, "LOCKED", path + " is locked by another process");
    MLB_THROW(env, "LOCK_FAILED", ErrnoMessage("cannot lock", path, err));
  }
  return Napi::Number::New(env, fd);
}

// [sync] unlockFile(fd): void — closes a descriptor from lockFile, which
//   releases the lock. Never throws for a number; ignores a closed one.
Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) MLB_THROW(env, kInvalidArgument, "fd: expected a number");
  close(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

}  // namespace

void InitFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFile", Napi::Function::New<LockFile>(env, "lockFile"));
  exports.Set("unlockFile", Napi::Function::New<UnlockFile>(env, "unlockFile"));
}

}  // namespace mlbridge
