// Unpacks an uploaded archive (zip, tar, tar.gz, ...) of a Markdown folder
// into a directory, for POST /v1/import/markdown.
//
// An upload is untrusted: entries with absolute paths or ".." components
// are refused, links and devices are skipped, and the unpacked size and
// entry count are bounded so that a small archive cannot fill the disk.
#pragma once

#include <cstdint>
#include <string>

#include "nodespace/status.h"

namespace nodespace::server {

struct ExtractLimits {
  uint64_t max_bytes = 4ull << 30;  // uncompressed, all files together
  uint64_t max_entries = 1000000;
};

struct ExtractReport {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t skipped = 0;  // links, devices and other non-files
  // The archive's only top-level directory, when everything lies in one
  // ("vault/…"): the folder to import, and a name for the vault.
  std::string single_top_dir;
};

// Unpacks `archive` into `dest` (created). InvalidArgument for an archive
// that cannot be read or breaks a rule above; the caller removes `dest`.
Result<ExtractReport> ExtractArchive(const std::string& archive, const std::string& dest,
                                     const ExtractLimits& limits);

}  // namespace nodespace::server
