// FaultInjectionEnv: an Env for tests that wraps a real Env and fails on
// command, to prove that a failed save leaves the previous file intact.
//
//   FaultInjectionEnv env(Env::Default());
//   env.FailWritesAfter(4096);   // the disk is "full" after 4 KiB more
//   EXPECT_FALSE(index.Save(env, path, seq).ok());
//
// Faults apply to files opened after they are set (and to writes that follow
// on files already open). Reads and maps pass through unchanged.
//
// Thread safety: safe to use from several threads; the settings are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "env/env.h"

namespace nodespace {

class FaultInjectionEnv final : public Env {
 public:
  // `base` must outlive this Env.
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Appends fail with ResourceExhausted ("no space left") once `bytes` more
  // bytes have been written through this Env; the bytes that still fit are
  // written, like a real full disk. Negative: never (the default).
  void FailWritesAfter(int64_t bytes) { write_budget_.store(bytes); }
  // Sync() of any writable file fails with IOError.
  void FailSync(bool fail) { fail_sync_.store(fail); }
  // RenameFile fails with IOError.
  void FailRename(bool fail) { fail_rename_.store(fail); }
  // SyncDir fails with IOError.
  void FailSyncDir(bool fail) { fail_sync_dir_.store(fail); }
  // Clears every fault.
  void Reset();

  // Bytes written through this Env so far (test diagnostics).
  int64_t bytes_written() const { return bytes_written_.load(); }

  Result<std::unique_ptr<MappedFile>> MapReadOnly(const std::string& path) override {
    return base_->MapReadOnly(path);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status SyncDir(const std::string& dir) override;
  Result<std::vector<uint8_t>> ReadFile(const std::string& path) override {
    return base_->ReadFile(path);
  }

 private:
  friend class FaultInjectionWritableFile;

  Env* base_;
  std::atomic<int64_t> write_budget_{-1};
  std::atomic<int64_t> bytes_written_{0};
  std::atomic<bool> fail_sync_{false};
  std::atomic<bool> fail_rename_{false};
  std::atomic<bool> fail_sync_dir_{false};
};

}  // namespace nodespace
