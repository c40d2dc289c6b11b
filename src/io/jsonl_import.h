// Streaming JSONL import: one node (or edge) per line, committed in batches.
//
// A batch is atomic: after a crash it is wholly present or wholly absent. A
// bad line is reported as `file:line: reason`; with OnError::kSkip it is left
// out and every good line still lands, with kAbort the import stops at it
// (the good lines before it are committed).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <string>

#include "nodespace/database.h"

namespace nodespace::io {

enum class OnError { kSkip, kAbort };

// Rows per transaction: the default, and the command line's default for a
// bulk load. A load's batches write the table and its unique indexes only,
// whose random keys (ids, parents) make every batch dirty pages all over
// them, each written to the WAL and fsynced once per commit: ten times the
// rows per commit made a 1M-node load 1.3 times as fast (docs/BENCHMARKS.md),
// for 100 MB more memory.
constexpr size_t kDefaultBatchSize = 5000;
constexpr size_t kBulkLoadBatchSize = 50000;

struct ImportOptions {
  size_t batch_size = kDefaultBatchSize;
  OnError on_error = OnError::kSkip;
  bool with_embeddings = true;  // false: ignore "embedding" fields
  size_t max_line_bytes = 16 << 20;
  std::string source_name = "-";  // used in error messages
  WriteOptions write_options;
  // Write the rows first and build the full-text and secondary indexes once
  // at the end (Database::BeginBulkLoad): several times faster when the
  // import brings more rows than the database holds; text search sees the
  // new nodes only when it finishes.
  bool bulk_load = false;
};

struct ImportProgress {
  uint64_t bytes_read = 0;
  uint64_t lines = 0;
  uint64_t nodes_written = 0;
  uint64_t errors = 0;
};

struct ImportCallbacks {
  // A bad line: "file:line: reason".
  std::function<void(const std::string& message)> on_error;
  // After each committed batch: its line range, nodes written, change seq.
  std::function<void(uint64_t first_line, uint64_t last_line, uint64_t nodes, int64_t seq)>
      on_commit;
  std::function<void(const ImportProgress&)> on_progress;
};

struct ImportSummary {
  uint64_t lines = 0;
  uint64_t nodes = 0;
  uint64_t edges = 0;
  uint64_t errors = 0;
  uint64_t batches = 0;
  bool aborted = false;
};

// Reads `in` to the end. Returns a failed Status only for failures of the
// database itself (I/O, disk full); bad input lines are counted in the
// summary and reported through callbacks.
//
// Past its first 2048 lines an import reads and parses on a second thread
// while the calling thread writes; callbacks still run on the calling thread,
// in line order. Nothing else may use `in` during the call, and after an
// aborted import `in` may have been read beyond the line that stopped it.
Result<ImportSummary> ImportJsonl(Database& db, std::istream& in, const ImportOptions& options,
                                  const ImportCallbacks& callbacks = {});

}  // namespace nodespace::io
