// Backup, restore and the fingerprint that checks a copy holds the same data.
#pragma once

#include <cstdint>
#include <string>

namespace nodespace {

// What Database::Backup wrote.
struct BackupReport {
  std::string path;        // the backup directory
  int64_t change_seq = 0;  // the backup holds every change up to this one
  int64_t node_count = 0;
  int64_t bytes = 0;  // size of the backup directory
  double seconds = 0;
};

// Counts and checksums of a database's data, equal for two databases that
// hold the same nodes and edges (derived state such as the vector index and
// caches is not part of it).
struct DatabaseFingerprint {
  int64_t node_count = 0;
  int64_t edge_count = 0;  // stored edges (mentions, member_of, user)
  int64_t change_seq = 0;  // last change-log sequence
  int64_t embedding_count = 0;
  // 64-bit hashes (hex) over every node row (id, parent, order key, type,
  // content, properties, lifecycle, version, times, embedding) and every edge,
  // in primary-key order.
  std::string nodes_checksum;
  std::string edges_checksum;

  bool operator==(const DatabaseFingerprint&) const = default;
};

}  // namespace nodespace
