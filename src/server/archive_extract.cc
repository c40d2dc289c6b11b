#include "server/archive_extract.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

namespace nodespace::server {

namespace fs = std::filesystem;

namespace {

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Relative, without "." or ".." segments, or empty when the name is unsafe.
fs::path SafeRelative(const char* name) {
  if (name == nullptr || *name == '\0') return {};
  const fs::path p(name);
  if (p.is_absolute() || p.has_root_name()) return {};
  fs::path out;
  for (const fs::path& part : p) {
    const std::string s = part.string();
    if (s == "..") return {};
    if (s.empty() || s == "." || s == "/") continue;
    out /= part;
  }
  return out;
}

}  // namespace

Result<ExtractReport> ExtractArchive(const std::string& archive_path, const std::string& dest,
                                     const ExtractLimits& limits) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  if (!a) return Status::Internal("cannot allocate an archive reader");
  archive_read_support_format_zip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::InvalidArgument(std::string("not a zip or tar archive: ") +
                                   archive_error_string(a.get()));
  }
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) return Status::IOError("cannot create " + dest + ": " + ec.message());

  ExtractReport report;
  std::string top;  // the first path segment every entry shares so far
  bool one_top_dir = true;
  uint64_t entries = 0;
  archive_entry* entry = nullptr;
  std::vector<char> buf(1 << 16);
  while (true) {
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return Status::InvalidArgument(std::string("the archive is damaged: ") +
                                     archive_error_string(a.get()));
    }
    if (++entries > limits.max_entries) {
      return Status::InvalidArgument("the archive has more than " +
                                     std::to_string(limits.max_entries) + " entries");
    }
    const char* raw_name = archive_entry_pathname(entry);
    const fs::path rel = SafeRelative(raw_name);
    if (rel.empty()) {
      if (raw_name != nullptr && std::string(raw_name).find("..") != std::string::npos) {
        return Status::InvalidArgument(std::string("unsafe path in the archive: ") + raw_name);
      }
      if (raw_name != nullptr && raw_name[0] == '/') {
        return Status::InvalidArgument(std::string("absolute path in the archive: ") + raw_name);
      }
      continue;  // "./" and the like
    }
    const std::string first = rel.begin()->string();
    const auto type = archive_entry_filetype(entry);
    const bool is_dir = type == AE_IFDIR;
    // A file at the top level means there is no single enclosing folder.
    if (!is_dir && std::distance(rel.begin(), rel.end()) == 1) one_top_dir = false;
    if (top.empty()) {
      top = first;
    } else if (top != first) {
      one_top_dir = false;
    }
    const fs::path target = fs::path(dest) / rel;
    if (is_dir) {
      fs::create_directories(target, ec);
      if (ec) return Status::IOError("cannot create " + target.string() + ": " + ec.message());
      continue;
    }
    if (type != AE_IFREG) {
      ++report.skipped;  // symbolic and hard links, devices, fifos
      continue;
    }
    fs::create_directories(target.parent_path(), ec);
    if (ec) return Status::IOError("cannot create " + target.string() + ": " + ec.message());
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IOError("cannot write " + target.string());
    while (true) {
      const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        return Status::InvalidArgument(std::string("the archive is damaged: ") +
                                       archive_error_string(a.get()));
      }
      report.bytes += static_cast<uint64_t>(n);
      if (report.bytes > limits.max_bytes) {
        return Status::InvalidArgument("the archive unpacks to more than " +
                                       std::to_string(limits.max_bytes) + " bytes");
      }
      out.write(buf.data(), n);
      if (!out) return Status::IOError("cannot write " + target.string() + " (disk full?)");
    }
    ++report.files;
  }
  if (one_top_dir && !top.empty()) report.single_top_dir = top;
  return report;
}

}  // namespace nodespace::server
