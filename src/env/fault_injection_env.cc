#include "env/fault_injection_env.h"

#include <algorithm>

namespace nodespace {

// Forwards to the real file, charging every append against the Env's budget.
class FaultInjectionWritableFile final : public WritableFile {
 public:
  FaultInjectionWritableFile(FaultInjectionEnv& env, std::unique_ptr<WritableFile> base,
                             std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}

  Status Append(std::string_view data) override {
    int64_t budget = env_.write_budget_.load();
    if (budget >= 0) {
      // Take what fits from the shared budget; the rest is "disk full".
      int64_t want = static_cast<int64_t>(data.size());
      int64_t take = 0;
      while (true) {
        take = std::min(want, budget);
        if (env_.write_budget_.compare_exchange_weak(budget, budget - take)) break;
        if (budget < 0) {
          take = want;
          break;
        }
      }
      if (take > 0) {
        NS_RETURN_IF_ERROR(base_->Append(data.substr(0, static_cast<size_t>(take))));
        env_.bytes_written_ += take;
      }
      if (take < want) {
        return Status::ResourceExhausted("cannot write '" + path_ +
                                         "': no space left on device (injected)");
      }
      return Status::OK();
    }
    NS_RETURN_IF_ERROR(base_->Append(data));
    env_.bytes_written_ += static_cast<int64_t>(data.size());
    return Status::OK();
  }

  Status Sync() override {
    if (env_.fail_sync_.load()) return Status::IOError("cannot sync '" + path_ + "' (injected)");
    return base_->Sync();
  }

  Status Close() override { return base_->Close(); }

 private:
  FaultInjectionEnv& env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

void FaultInjectionEnv::Reset() {
  write_budget_.store(-1);
  fail_sync_.store(false);
  fail_rename_.store(false);
  fail_sync_dir_.store(false);
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> base, base_->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultInjectionWritableFile>(*this, std::move(base), path));
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  if (fail_rename_.load()) return Status::IOError("cannot rename '" + from + "' (injected)");
  return base_->RenameFile(from, to);
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  if (fail_sync_dir_.load())
    return Status::IOError("cannot sync directory '" + dir + "' (injected)");
  return base_->SyncDir(dir);
}

}  // namespace nodespace
