// The full-text index of a bulk load, built on a thread of its own while the
// load writes its rows.
//
// Why: FTS5's 'rebuild' at the end of a load re-reads and tokenizes every
// row on the thread that also wrote them (12 of the 48 s of a 1M-node load),
// while the machine's other core mostly waits. Tokenizing as the rows commit
// moves that work off the load's critical path.
//
// How: the thread follows the nodes table by rowid through a read-only
// connection (WAL: it reads committed rows only and never blocks the writer)
// and inserts each row into an FTS5 table of the same declaration in a
// scratch database file. FTS5 writes the same segments for the same rows
// whatever table holds them, so FinishBulkLoad can copy the scratch's shadow
// tables over the main ones in the transaction that ends the load. That is
// valid only if what the thread read is exactly the table: BuiltTextIndex
// carries what FinishBulkLoad checks (row count, largest rowid, and that no
// change but a create happened since the build began: an update, move or
// delete could have changed a row the thread had already read). Otherwise
// the load falls back to 'rebuild'.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace {

// What a finished build read and where its index lies.
struct BuiltTextIndex {
  std::string scratch_file;  // an SQLite file holding nodes_fts and its shadow tables
  int64_t rows = 0;          // rows indexed
  int64_t max_rowid = 0;     // the largest rowid indexed (0: none)
  int64_t start_seq = 0;     // the change log's last seq when the build began
};

class BulkTextBuild {
 public:
  // Opens the read-only connection to the main file the thread reads
  // through (on the thread).
  using OpenSource = std::function<Result<std::unique_ptr<storage::Connection>>()>;

  // Starts the thread. `fts_sql` is the CREATE VIRTUAL TABLE statement of
  // the main file's nodes_fts; `start_seq` the change log's last seq,
  // read before any row the build may miss was written.
  BulkTextBuild(OpenSource open_source, std::string scratch_file, std::string fts_sql,
                int64_t start_seq);
  // Stops the thread if Finish did not, and removes the scratch file.
  ~BulkTextBuild();
  BulkTextBuild(const BulkTextBuild&) = delete;
  BulkTextBuild& operator=(const BulkTextBuild&) = delete;

  // Tells the thread to index the rows committed since its last read and
  // then stop reading, without waiting: the caller may build its other
  // indexes meanwhile. Call after the load's last commit.
  void StopReading();
  // StopReading, then waits until the thread has stopped reading; it goes
  // on merging the segments into one.
  Result<BuiltTextIndex> FinishReading();
  // FinishReading, then waits for the merge and stops the thread.
  Result<BuiltTextIndex> Finish();

 private:
  Status Run();
  Status Follow();  // the thread's loop, until stop_ and nothing left to read
  void ReadingDone(const Status& status);

  const OpenSource open_source_;
  const std::string scratch_file_;
  const std::string fts_sql_;
  BuiltTextIndex built_;  // written by the thread; read once reading_done_

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;          // guarded by mu_
  bool cancel_ = false;        // guarded by mu_: stop without finishing (destructor)
  bool reading_done_ = false;  // guarded by mu_: built_ is final
  Status reading_status_;      // guarded by mu_
  Status result_;              // written by the thread; read after join
  std::thread thread_;
};

}  // namespace nodespace
