// Partitions and hot/cold tiers (docs/PARTITIONS.md).
//
// A partitioned database assigns every root node, and with it its whole
// subtree, to one partition (a subtree never splits). Rows stay in the one
// SQLite file (WAL transactions are atomic only within one file, and a move
// across partitions must be one transaction); what a partition owns is its
// vector index, its created_at range (time filters prune partitions), its
// compaction and its tier. Text ranking keeps one FTS5 index, so BM25
// statistics are global and a score never depends on the partition.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nodespace {

enum class PartitionScheme : uint8_t {
  // Roots in creation order fill the newest partition up to the target size;
  // then a new partition opens. Old partitions go quiet and turn cold.
  kTime,
  // Roots go to the partition with the fewest nodes (the split packs the
  // largest roots first); a new one opens when all are at the target.
  kSize,
};

const char* PartitionSchemeName(PartitionScheme scheme);  // "time" / "size"

struct PartitionOptions {
  PartitionScheme scheme = PartitionScheme::kTime;
  // Nodes per partition before the next opens. A root larger than this is a
  // partition of its own.
  int64_t target_nodes = 100000;
  // Rows the split reassigns per write transaction (writes wait at most
  // about one batch).
  int64_t split_batch_rows = 20000;
  // A partition no search or write touched for this long turns cold (a
  // quarter of it when the cost optimizer's aggressive_archival is on).
  int64_t cold_after_ms = int64_t{7} * 24 * 3600 * 1000;
};

struct PartitionInfo {
  int64_t id = 0;
  int64_t node_count = 0;
  int64_t min_created_ms = 0;  // bounds of its nodes' created_at (0: empty)
  int64_t max_created_ms = 0;
  std::string tier = "hot";  // hot | cold
  int64_t tier_since_ms = 0;
  int64_t last_access_ms = 0;  // last search of it or write into it
  bool index_loaded = false;   // its vector index is in this process's memory
  int64_t index_vectors = 0;   // when loaded
  int64_t index_memory_bytes = 0;
  int64_t index_file_bytes = 0;
  bool index_int8 = false;  // the graph walks 8-bit codes (cold partitions)
};

// The dedicated vector service (DedicatedVectorDB), as this process sees it.
struct VectorServiceInfo {
  bool enabled = false;  // meta `vector_service`: the manager starts it at open
  bool running = false;  // this process supervises a live service
  bool healthy = false;  // it answered its last health check
  int64_t pid = 0;
  int port = 0;
  int restarts = 0;
  int64_t remote_searches = 0;  // answered by the service
  int64_t fallbacks = 0;        // answered in-process while it was down
  std::string last_error;
};

struct PartitioningStatus {
  // "none" (not partitioned), "splitting" (a split is under way or was cut
  // short: it resumes), "active".
  std::string state = "none";
  PartitionScheme scheme = PartitionScheme::kTime;
  int64_t target_nodes = 0;
  int64_t unassigned_nodes = 0;  // nodes still in no partition (splitting)
  bool tiering = false;
  int64_t cold_after_ms = 0;  // in force (aggressive archival included)
  std::vector<PartitionInfo> partitions;
  VectorServiceInfo vector_service;
};

}  // namespace nodespace
