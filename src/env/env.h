// The filesystem interface for every file NodeSpace writes itself (index
// files, embedder models, backups). SQLite does its own I/O; everything else
// goes through an Env so tests can fail a write, fill the disk or drop data
// that was never synced (FaultInjectionEnv).
//
// Thread safety: Env implementations are safe to call from several threads.
// A MappedFile is immutable after it is returned and may be read concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nodespace/status.h"

namespace nodespace {

// A read-only view of a whole file. Pages are read on first touch, so opening
// a large file costs one mmap call, not a read of the file.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
  // Tells the kernel that this process need not keep [begin, begin + length)
  // (inside data()) resident: those pages leave the process's resident set
  // and are read again, from the page cache or the file, on the next touch.
  // Only whole pages inside the range are released; returns their bytes
  // (0 when the range holds no whole page or the kernel refuses).
  virtual size_t ReleasePages(const uint8_t* begin, size_t length) const = 0;
  // Copies `length` bytes at `begin` (inside data()) into `out` by reading
  // the file, so those pages are not mapped into this process (the kernel's
  // page cache serves them, outside the process's resident set). False when
  // the read fails; the caller may read the mapping instead.
  virtual bool ReadInto(const uint8_t* begin, size_t length, void* out) const = 0;
  // Asks the kernel to start reading [begin, begin + length) (inside data())
  // of the file into the page cache, without waiting (POSIX_FADV_WILLNEED).
  // Announced for a batch of scattered ReadInto calls that follows, it lets
  // their disk reads overlap instead of each one waiting for the last: the
  // difference when the page cache holds little of the file. A hint: does
  // nothing when the range is outside the file.
  virtual void WillRead(const uint8_t* begin, size_t length) const = 0;
  // Maps the pages of [begin, begin + length) (inside data()) into this
  // process now, reading from the file what the page cache lacks, so that
  // later reads do not fault them in one page at a time (a fault per 4 KiB
  // page costs about as much as reading it). Returns the bytes mapped; 0
  // where the kernel cannot (before Linux 5.14 the pages are only read ahead
  // into the page cache).
  virtual size_t Populate(const uint8_t* begin, size_t length) const = 0;
};

// A file opened for appending. Data is durable only after Sync() returns OK.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;
  // Closes the descriptor; a file not closed is closed by the destructor,
  // ignoring errors.
  virtual Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide real filesystem.
  static Env* Default();

  // Maps `path` read-only, asking for huge pages where the kernel maps files
  // with them (fewer TLB misses for random reads of a large index).
  virtual Result<std::unique_ptr<MappedFile>> MapReadOnly(const std::string& path) = 0;
  // Creates or truncates `path`.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Makes a rename or a new file in `dir` durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Result<std::vector<uint8_t>> ReadFile(const std::string& path) = 0;
};

// Writes `data` to `path` so that after a crash the file holds either its old
// contents or all of `data`, never a mix: write a temporary file beside it,
// sync it, rename it over `path`, sync the directory.
Status WriteFileAtomically(Env& env, const std::string& path, std::string_view data);

// A WritableFile that streams into a temporary file and replaces `path` on
// Commit(), with the same all-or-nothing promise as WriteFileAtomically.
// Destroying it without Commit() removes the temporary file.
class AtomicFileWriter {
 public:
  static Result<std::unique_ptr<AtomicFileWriter>> Open(Env& env, const std::string& path);
  ~AtomicFileWriter();
  Status Append(std::string_view data) { return file_->Append(data); }
  Status Commit();

 private:
  AtomicFileWriter(Env& env, std::string path, std::string tmp, std::unique_ptr<WritableFile> f)
      : env_(env), path_(std::move(path)), tmp_path_(std::move(tmp)), file_(std::move(f)) {}
  Env& env_;
  std::string path_;
  std::string tmp_path_;
  std::unique_ptr<WritableFile> file_;
  bool committed_ = false;
};

}  // namespace nodespace
