// All-or-nothing file replacement on top of any Env.
#include <unistd.h>

#include "env/env.h"

namespace nodespace {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Open(Env& env,
                                                                 const std::string& path) {
  // The pid keeps two processes that rebuild the same file from clobbering
  // each other's temporary file; the rename decides who wins.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  NS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env.NewWritableFile(tmp));
  return std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter(env, path, tmp, std::move(f)));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) {
    (void)file_->Close();
    (void)env_.RemoveFile(tmp_path_);
  }
}

Status AtomicFileWriter::Commit() {
  NS_RETURN_IF_ERROR(file_->Sync());
  NS_RETURN_IF_ERROR(file_->Close());
  NS_RETURN_IF_ERROR(env_.RenameFile(tmp_path_, path_));
  committed_ = true;
  return env_.SyncDir(DirOf(path_));
}

Status WriteFileAtomically(Env& env, const std::string& path, std::string_view data) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> w, AtomicFileWriter::Open(env, path));
  NS_RETURN_IF_ERROR(w->Append(data));
  return w->Commit();
}

}  // namespace nodespace
