// Writes zip and tar.gz archives for tests of archive uploads.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace nodespace::testing {

enum ArchiveEntryType { kArchiveFile, kArchiveDir, kArchiveSymlink };

struct ArchiveEntry {
  ArchiveEntry(std::string n, std::string b, ArchiveEntryType t = kArchiveFile, std::string l = "")
      : name(std::move(n)), body(std::move(b)), type(t), link(std::move(l)) {}
  std::string name;
  std::string body;
  ArchiveEntryType type = kArchiveFile;
  std::string link;  // kArchiveSymlink: the target
};

// A zip, or with `tar` a gzipped tar, holding `entries` in order.
void WriteArchive(const std::string& path, const std::vector<ArchiveEntry>& entries,
                  bool tar = false);

}  // namespace nodespace::testing
