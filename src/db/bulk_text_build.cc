#include "db/bulk_text_build.h"

#include <chrono>
#include <cstdio>
#include <utility>

namespace nodespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

namespace {

// Rows per read of the main file: each read is a short read transaction of
// its own, so that the loader's checkpoints are never held back for long.
constexpr int kRowsPerRead = 4096;

// How long the thread sleeps when it has read every committed row and the
// load goes on: about the time the loader needs for a few hundred rows.
constexpr auto kIdleWait = std::chrono::milliseconds(20);

// Scratch pages kept in memory. The index is written once, appending.
constexpr char kScratchCache[] = "PRAGMA cache_size = -16384";

// FTS5 gathers terms in memory and writes a segment each time they pass
// this size (its default is 1 MiB). Fewer, larger segments cost less to
// write and to merge at the end: at 1M nodes, 9.4-11.8 s for the thread
// and 1.2-1.8 s for the merge, against 11.8-13.1 s and 1.6-1.9 s with the
// default (docs/BENCHMARKS.md), for up to 32 MiB more memory during the
// load.
constexpr char kScratchHashSize[] =
    "INSERT INTO nodes_fts(nodes_fts, rank) VALUES ('hashsize', 33554432)";

}  // namespace

BulkTextBuild::BulkTextBuild(OpenSource open_source, std::string scratch_file, std::string fts_sql,
                             int64_t start_seq)
    : open_source_(std::move(open_source)),
      scratch_file_(std::move(scratch_file)),
      fts_sql_(std::move(fts_sql)) {
  built_.scratch_file = scratch_file_;
  built_.start_seq = start_seq;
  thread_ = std::thread([this] { result_ = Run(); });
}

BulkTextBuild::~BulkTextBuild() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cancel_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::remove(scratch_file_.c_str());
}

void BulkTextBuild::StopReading() {
  std::lock_guard lock(mu_);
  stop_ = true;
  wake_.notify_all();
}

Result<BuiltTextIndex> BulkTextBuild::FinishReading() {
  StopReading();
  std::unique_lock lock(mu_);
  wake_.wait(lock, [this] { return reading_done_; });
  NS_RETURN_IF_ERROR(reading_status_);
  return built_;
}

Result<BuiltTextIndex> BulkTextBuild::Finish() {
  NS_RETURN_IF_ERROR(FinishReading().status());
  if (thread_.joinable()) thread_.join();
  NS_RETURN_IF_ERROR(result_);
  return built_;
}

void BulkTextBuild::ReadingDone(const Status& status) {
  std::lock_guard lock(mu_);
  if (reading_done_) return;
  reading_done_ = true;
  reading_status_ = status;
  wake_.notify_all();
}

Status BulkTextBuild::Run() {
  std::remove(scratch_file_.c_str());
  Status st = Follow();
  if (!st.ok()) std::remove(scratch_file_.c_str());
  ReadingDone(st);  // a failure before the end of reading
  return st;
}

Status BulkTextBuild::Follow() {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> source, open_source_());
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> scratch,
                      Connection::Open(scratch_file_, /*read_only=*/false, /*create=*/true));
  // Nothing here needs to survive a crash: a load that dies is finished by
  // 'rebuild' on the next open, and the scratch file is discarded.
  NS_RETURN_IF_ERROR(scratch->Exec("PRAGMA journal_mode = OFF"));
  NS_RETURN_IF_ERROR(scratch->Exec("PRAGMA synchronous = OFF"));
  NS_RETURN_IF_ERROR(scratch->Exec(kScratchCache));
  NS_RETURN_IF_ERROR(scratch->Exec(fts_sql_));
  // As FinishBulkLoad's 'rebuild': no merging while rows arrive, one merge
  // into a single segment at the end.
  NS_RETURN_IF_ERROR(
      scratch->Exec("INSERT INTO nodes_fts(nodes_fts, rank) VALUES ('automerge', 0)"));
  NS_RETURN_IF_ERROR(scratch->Exec(kScratchHashSize));
  NS_RETURN_IF_ERROR(scratch->Exec("BEGIN"));
  NS_ASSIGN_OR_RETURN(Statement * read,
                      source->Prepare("SELECT rowid, title, content FROM nodes WHERE rowid > ?1 "
                                      "ORDER BY rowid LIMIT " +
                                      std::to_string(kRowsPerRead)));
  NS_ASSIGN_OR_RETURN(Statement * insert,
                      scratch->Prepare("INSERT INTO nodes_fts(rowid, title, content) "
                                       "VALUES (?1, ?2, ?3)"));
  while (true) {
    bool stopping;
    {
      std::lock_guard lock(mu_);
      if (cancel_) return Status::Internal("the bulk load's text index build was cancelled");
      stopping = stop_;
    }
    int read_rows = 0;
    {
      ScopedStatement s(*read);
      s->Bind(1, built_.max_rowid);
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        const int64_t rowid = s->ColumnInt(0);
        // The row's text stays valid until `read` steps again, after this
        // run: bound uncopied, it costs no allocation (each of which takes
        // SQLite's allocation mutex, which the loading thread needs too).
        NS_RETURN_IF_ERROR(insert->Bind(1, rowid)
                               .BindUncopied(2, s->ColumnText(1))
                               .BindUncopied(3, s->ColumnText(2))
                               .Run());
        built_.max_rowid = rowid;
        ++built_.rows;
        ++read_rows;
      }
    }
    if (read_rows == kRowsPerRead) continue;
    // Every committed row is in. Once the loader has said it is done (before
    // this read began), nothing more can come from it.
    if (stopping) break;
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, kIdleWait, [this] { return stop_; });
  }
  NS_RETURN_IF_ERROR(scratch->Exec("COMMIT"));
  ReadingDone(Status::OK());
  NS_RETURN_IF_ERROR(scratch->Exec("INSERT INTO nodes_fts(nodes_fts) VALUES ('optimize')"));
  return Status::OK();
}

}  // namespace nodespace
