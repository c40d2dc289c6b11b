#include "db/vector_index_store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "env/env.h"
#include "nodespace/change.h"
#include "storage/meta.h"

namespace nodespace {
namespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;
using Clock = std::chrono::steady_clock;

// Replaying more changes than this (or than the index holds) costs more
// than reading every vector again.
constexpr int64_t kMaxReplay = 200000;
constexpr int64_t kVerifyOnOpenMaxBytes = int64_t{256} << 20;
// Closing saves the index only when it is this many changes ahead of its file.
constexpr int64_t kSaveOnCloseMinChanges = 1000;
// A graph built with int8 on trains its quantiser at once when it holds at
// least this many vectors (rather than waiting for HnswOptions::
// int8_train_size): per-dimension ranges from 1,000 vectors already reach
// about +-3.2 sigma, and the rare value beyond saturates to the end code;
// the float re-scoring of the best candidates corrects what that costs.
constexpr size_t kInt8TrainMinVectors = 1000;

constexpr const char* kKindKey = "vector_index";
constexpr const char* kTuningKey = "vector_tuning";

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

std::span<const float> BlobAsVector(const Statement& s, int col) {
  return {static_cast<const float*>(s.ColumnBlob(col)),
          static_cast<size_t>(s.ColumnBytes(col)) / sizeof(float)};
}

Result<int64_t> LastSeq(Connection& conn) {
  return conn.QueryInt("SELECT coalesce(max(seq), 0) FROM changes");
}

Status Stopping(std::string_view what) {
  return Status::Busy("vector index " + std::string(what) +
                      " interrupted: the process is stopping");
}

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The maintenance methods commit their setting before building, so that a
// crash during a long build still leaves the decision on disk; that needs a
// connection with no transaction of the caller's around it.
Status CheckIdle(Connection& conn, std::string_view what) {
  if (sqlite3_get_autocommit(conn.raw()) == 0) {
    return Status::InvalidArgument(std::string(what) +
                                   " needs an idle connection; it is inside a transaction");
  }
  return Status::OK();
}

Status PutMeta(Connection& conn, std::string_view key, const std::string& value) {
  storage::Transaction txn(conn);
  NS_RETURN_IF_ERROR(txn.Begin());
  {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn.Prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) ON "
                                     "CONFLICT(key) DO UPDATE SET value = excluded.value"));
    ScopedStatement s(*stmt);
    s->Bind(1, key).Bind(2, value);
    NS_RETURN_IF_ERROR(s->Run());
  }
  return txn.Commit();
}

Status CheckTuning(const VectorTuning& t) {
  if (t.m < 2 || t.m > 256) {
    return Status::InvalidArgument("vector tuning: m must be in 2..256, got " +
                                   std::to_string(t.m));
  }
  if (t.ef_construction == 0) {
    return Status::InvalidArgument("vector tuning: ef_construction must be > 0");
  }
  if (t.ef_search == 0) return Status::InvalidArgument("vector tuning: ef_search must be > 0");
  return Status::OK();
}

std::string TuningToJson(const VectorTuning& t) {
  nlohmann::json j = {{"m", t.m},
                      {"ef_construction", t.ef_construction},
                      {"ef_search", t.ef_search},
                      {"int8", t.int8}};
  return j.dump();
}

// Fields missing from the JSON keep `base`; a wrong type or an unusable value
// makes the whole value invalid (nullopt).
std::optional<VectorTuning> TuningFromJson(std::string_view text, VectorTuning base) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto read_u32 = [&](const char* key, uint32_t& out) {
    if (!j.contains(key)) return true;
    const auto& v = j[key];
    if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) return false;
    out = v.get<uint32_t>();
    return true;
  };
  if (!read_u32("m", base.m) || !read_u32("ef_construction", base.ef_construction) ||
      !read_u32("ef_search", base.ef_search)) {
    return std::nullopt;
  }
  if (j.contains("int8")) {
    if (!j["int8"].is_boolean()) return std::nullopt;
    base.int8 = j["int8"].get<bool>();
  }
  if (!CheckTuning(base).ok()) return std::nullopt;
  return base;
}

std::string DescribeTuning(const VectorTuning& t) {
  return "m " + std::to_string(t.m) + ", ef_construction " + std::to_string(t.ef_construction) +
         ", ef_search " + std::to_string(t.ef_search) + ", int8 " + (t.int8 ? "on" : "off");
}

}  // namespace

// Recall of one graph at a fixed beam falls as the graph grows
// (docs/BENCHMARKS.md, 384-dim embeddings, M 16): recall@10 0.947 at ef 64
// and 0.974 at ef 128 over 100K vectors, but only 0.89-0.92 at ef 128-256
// over 1M. So the beam widens with the count: 64 suffices for small graphs
// (recall at a given ef rises as the graph shrinks, and 64 is already 0.947
// at 100K), 128 keeps >= 0.97 up to the hundreds of thousands, and past 500K
// the graph also gets more links (m 24: about 50 % more link memory) since a
// wider beam alone did not reach 0.95 at 1M. ef_construction stays at the 200
// the 100K numbers were measured with: the 1M run's 100 capped its recall.
// Past 500K the graph also walks 8-bit codes: with the integer kernel
// (DotProductU8I16) and a huge-page mapping, int8 answered 1,400-1,900
// queries/s at recall 0.955 on the 1M graph against 1,000-1,100 for floats
// and hnswlib, and a quantized index keeps its float vectors out of memory
// (read only to re-score; docs/BENCHMARKS.md). Below that floats stay: the
// float walk already matches hnswlib at 100K and the codes would add a
// quarter to the index's memory.
VectorTuning TunedParametersFor(int64_t vector_count) {
  VectorTuning t;
  t.ef_search = vector_count < 50000 ? 64 : vector_count < 500000 ? 128 : 192;
  t.m = vector_count < 500000 ? 16 : 24;
  t.ef_construction = 200;
  t.int8 = vector_count >= 500000;
  return t;
}

std::string_view VectorIndexStore::VectorIndexKindName(VectorIndexKind kind) {
  return kind == VectorIndexKind::kFlat ? "flat" : "hnsw";
}

VectorIndexStore::VectorIndexStore(std::string dir, const Options& options, int64_t partition)
    : path_(std::move(dir) + "/vectors.idx"), options_(options), partition_(partition) {
  // What the first Sync decides when meta names no kind (see ReadSettings);
  // only Info() before that Sync sees this guess.
  kind_ = Env::Default()->FileExists(path_) || !options_.scaling.enabled ? VectorIndexKind::kHnsw
                                                                         : VectorIndexKind::kFlat;
}

VectorIndexStore::~VectorIndexStore() {
  StopWarmUp();
  std::unique_lock lock(mu_);
  if (!opened_ || kind_ != VectorIndexKind::kHnsw) return;
  // Rewriting a large file for a handful of changes would make every short
  // session (one CLI command) pay for the whole index; the next open replays
  // them from the change log instead. A rebuilt index is always saved.
  const bool worth_saving = saved_seq_ < 0 || applied_seq_ - saved_seq_ >= kSaveOnCloseMinChanges;
  if (!options_.read_only && worth_saving) {
    Status st = SaveLocked();
    if (!st.ok()) Log("could not save the vector index: " + st.message());
  }
}

void VectorIndexStore::Log(const std::string& line) const {
  if (options_.info_log) {
    options_.info_log(line);
  } else {
    std::cerr << "nodespace: " << line << "\n";
  }
}

Result<VectorIndexStore::Settings> VectorIndexStore::ReadSettings(Connection& conn) const {
  NS_ASSIGN_OR_RETURN(std::optional<std::string> dim, storage::ReadMeta(conn, "embedding_dim"));
  NS_ASSIGN_OR_RETURN(std::optional<std::string> metric, storage::ReadMeta(conn, "vector_metric"));
  NS_ASSIGN_OR_RETURN(std::optional<std::string> kind, storage::ReadMeta(conn, kKindKey));
  NS_ASSIGN_OR_RETURN(std::optional<std::string> tuning, storage::ReadMeta(conn, TuningKey()));
  if (!tuning && partition_ != 0) {
    NS_ASSIGN_OR_RETURN(tuning, storage::ReadMeta(conn, kTuningKey));
  }
  Settings s;
  vector::HnswOptions& o = s.hnsw;
  o.dim = dim ? std::stoul(*dim) : 0;
  NS_ASSIGN_OR_RETURN(o.metric, vector::ParseMetric(metric ? *metric : "cosine"));
  VectorTuning t{options_.hnsw_m, options_.hnsw_ef_construction, options_.hnsw_ef_search, false};
  // Both keys only steer how the index is built: a damaged value must not
  // stop searches, so it is reported and the configured behaviour used.
  if (tuning) {
    s.tuning = TuningFromJson(*tuning, t);
    if (s.tuning) {
      t = *s.tuning;
    } else {
      Log(std::string("meta '") + kTuningKey + "' holds an unusable value '" + *tuning +
          "'; using the configured HNSW parameters");
    }
  }
  o.m = t.m;
  o.ef_construction = t.ef_construction;
  o.ef_search = t.ef_search;
  o.int8 = t.int8;
  if (kind && *kind == VectorIndexKindName(VectorIndexKind::kFlat)) {
    s.kind = VectorIndexKind::kFlat;
  } else if (kind && *kind == VectorIndexKindName(VectorIndexKind::kHnsw)) {
    s.kind = VectorIndexKind::kHnsw;
  } else {
    if (kind) {
      Log(std::string("meta '") + kKindKey + "' holds an unknown index kind '" + *kind +
          "'; choosing one as for a database without it");
    }
    // A database that already has a graph file keeps using it; a new one
    // starts flat when the scaling manager is there to move it to a graph
    // as it grows, and with the graph (the behaviour before kinds) otherwise.
    // One already past the manager's indexing threshold starts with the
    // graph too: the manager would switch it at its next check, and until
    // then every process (a one-shot CLI search included) would load and
    // scan every vector. max(rowid) is an O(log n) upper bound of the count.
    NS_ASSIGN_OR_RETURN(int64_t rows, conn.QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes"));
    s.kind = Env::Default()->FileExists(path_) || !options_.scaling.enabled ||
                     rows > options_.scaling.thresholds.optimize_indexing_nodes
                 ? VectorIndexKind::kHnsw
                 : VectorIndexKind::kFlat;
  }
  return s;
}

Result<VectorIndexStore::Built> VectorIndexStore::Build(Connection& conn, VectorIndexKind kind,
                                                        const std::atomic<bool>* stop) const {
  const auto start = Clock::now();
  // A caller's own transaction gets one pass under its snapshot. Otherwise
  // the rows are read a slice at a time, each slice in a read transaction of
  // its own, so that a build of minutes does not keep the WAL from being
  // checkpointed while writers go on. Rows written after the first slice
  // may be read already; the catch-up from `seq` then finds them in place.
  const bool joined = sqlite3_get_autocommit(conn.raw()) == 0;
  storage::ReadTransaction snapshot(conn);
  NS_RETURN_IF_ERROR(snapshot.JoinOrBegin());
  Built b;
  b.kind = kind;
  NS_ASSIGN_OR_RETURN(b.settings, ReadSettings(conn));
  NS_ASSIGN_OR_RETURN(b.seq, LastSeq(conn));
  const vector::HnswOptions& o = b.settings.hnsw;
  if (o.dim == 0) return b;  // no vector stored yet: nothing to build
  if (kind == VectorIndexKind::kHnsw) {
    NS_ASSIGN_OR_RETURN(b.hnsw, vector::HnswIndex::Create(o));
    NS_ASSIGN_OR_RETURN(int64_t count,
                        conn.QueryInt("SELECT count(*) FROM nodes WHERE lifecycle = 0 AND "
                                      "embedding IS NOT NULL" +
                                      PartitionCondition()));
    b.hnsw->Reserve(static_cast<size_t>(count));
  } else {
    b.flat = std::make_unique<vector::FlatIndex>(o.dim, o.metric);
  }
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      conn.Prepare("SELECT rowid, embedding FROM nodes WHERE lifecycle = 0 AND "
                   "embedding IS NOT NULL" +
                   PartitionCondition() + " AND rowid > ?1 ORDER BY rowid LIMIT ?2"));
  const int64_t slice =
      joined ? -1 : static_cast<int64_t>(std::max<size_t>(1, options_.vector_catch_up_slice));
  int64_t after = 0;  // rowids start at 1
  auto add = [&b](int64_t rowid, std::span<const float> v) {
    // rowid order: each row once
    return b.hnsw ? b.hnsw->Insert(rowid, v) : b.flat->Upsert(rowid, v);
  };
  // Sliced: a slice's rows are copied out and the snapshot ended before the
  // graph takes them (seconds of work per slice at 1M).
  std::vector<int64_t> rowids;
  std::vector<float> vectors;
  for (bool first = true;; first = false) {
    if (!first) NS_RETURN_IF_ERROR(snapshot.JoinOrBegin());
    ScopedStatement s(*stmt);
    s->Bind(1, after).Bind(2, slice);
    rowids.clear();
    vectors.clear();
    int64_t rows = 0;
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      ++rows;
      after = s->ColumnInt(0);
      const std::span<const float> v = BlobAsVector(*s, 1);
      if (joined) {
        NS_RETURN_IF_ERROR(add(after, v));
      } else {
        rowids.push_back(after);
        vectors.insert(vectors.end(), v.begin(), v.end());
      }
    }
    s->Reset();
    snapshot.End();
    const size_t dim = rowids.empty() ? 0 : vectors.size() / rowids.size();
    for (size_t i = 0; i < rowids.size(); ++i) {
      NS_RETURN_IF_ERROR(add(rowids[i], std::span<const float>(vectors.data() + i * dim, dim)));
    }
    if (slice < 0 || rows < slice) break;
    if (stop != nullptr && stop->load()) return Stopping("build");
  }
  if (b.hnsw && o.int8 && !b.hnsw->quantizer_trained() && b.hnsw->size() >= kInt8TrainMinVectors) {
    NS_RETURN_IF_ERROR(b.hnsw->TrainQuantizer());
  }
  b.millis = MillisSince(start);
  return b;
}

Status VectorIndexStore::Install(Connection& conn, Built built) {
  // The index being replaced may have caught up past the snapshot the new
  // one was built from (searches went on during the build).
  const int64_t reached = opened_ ? applied_seq_ : 0;
  kind_ = built.kind;
  StopWarmUp();  // of the graph this one replaces
  index_ = std::move(built.hnsw);
  flat_ = std::move(built.flat);
  tuning_ = {built.settings.hnsw.m, built.settings.hnsw.ef_construction,
             built.settings.hnsw.ef_search, built.settings.hnsw.int8};
  search_ef_ = 0;  // the graph was built with the tuned beam
  applied_seq_ = built.seq;
  opened_ = true;
  Env& env = *Env::Default();
  if (kind_ == VectorIndexKind::kHnsw) {
    saved_seq_ = -1;  // force a save
    NS_RETURN_IF_ERROR(SaveLocked());
  } else {
    saved_seq_ = applied_seq_;
    // A flat store keeps nothing on disk; a graph file left behind would be
    // taken up again, stale, if the kind went back to hnsw without a build.
    if (!options_.read_only && env.FileExists(path_)) NS_RETURN_IF_ERROR(env.RemoveFile(path_));
  }
  if (reached > applied_seq_) NS_RETURN_IF_ERROR(CatchUp(conn, reached));
  return Status::OK();
}

Status VectorIndexStore::Sync(Connection& conn, const std::atomic<bool>* stop) {
  NS_ASSIGN_OR_RETURN(int64_t last, LastSeq(conn));
  {
    std::shared_lock lock(mu_);
    if (opened_ && applied_seq_ >= last) return Status::OK();
  }
  std::unique_lock lock(mu_);
  sync_stop_ = stop;
  struct ClearStop {
    const std::atomic<bool>*& stop;
    ~ClearStop() { stop = nullptr; }
  } clear_stop{sync_stop_};
  // A caller inside its own transaction wants its snapshot: one pass under
  // it. Otherwise each slice of the catch-up is a short read transaction of
  // its own (Options::vector_catch_up_slice), and the loop ends at whatever
  // is the end of the log by then. Searches wait on mu_ meanwhile, so none
  // sees a partial catch-up.
  const bool joined = sqlite3_get_autocommit(conn.raw()) == 0;
  const int64_t slice = static_cast<int64_t>(std::max<size_t>(1, options_.vector_catch_up_slice));
  for (bool first = true;; first = false) {
    storage::ReadTransaction snapshot(conn);
    NS_RETURN_IF_ERROR(snapshot.JoinOrBegin());
    NS_ASSIGN_OR_RETURN(last, LastSeq(conn));
    if (!opened_) {
      // Opening may build the whole index (a missing or damaged file): the
      // build takes its own snapshots, one per slice, unless the caller
      // holds one.
      snapshot.End();
      NS_RETURN_IF_ERROR(OpenLocked(conn));
      opened_ = true;
      NS_RETURN_IF_ERROR(snapshot.JoinOrBegin());
      NS_ASSIGN_OR_RETURN(last, LastSeq(conn));
    }
    if (applied_seq_ >= last) break;
    const int64_t behind = last - applied_seq_;
    const int64_t held = index_  ? static_cast<int64_t>(index_->size())
                         : flat_ ? static_cast<int64_t>(flat_->size())
                                 : 0;
    if (first && behind > kMaxReplay && behind > held) {
      // The build takes its own snapshots (one per slice) unless the caller
      // holds one.
      snapshot.End();
      NS_RETURN_IF_ERROR(Rebuild(
          conn, "vector index is " + std::to_string(behind) + " changes behind; rebuilding it"));
      continue;
    }
    NS_RETURN_IF_ERROR(CatchUp(conn, joined ? last : std::min(last, applied_seq_ + slice),
                               [&snapshot] { snapshot.End(); }));
    if (joined) break;
    if (stop != nullptr && stop->load()) return Stopping("catch-up");
  }
  if (kind_ == VectorIndexKind::kHnsw && !options_.read_only &&
      applied_seq_ - saved_seq_ >= static_cast<int64_t>(options_.vector_index_save_every)) {
    NS_RETURN_IF_ERROR(SaveLocked());
  }
  return Status::OK();
}

Status VectorIndexStore::OpenLocked(Connection& conn) {
  NS_ASSIGN_OR_RETURN(Settings settings, ReadSettings(conn));
  index_.reset();
  flat_.reset();
  kind_ = settings.kind;
  tuning_ = {settings.hnsw.m, settings.hnsw.ef_construction, settings.hnsw.ef_search,
             settings.hnsw.int8};
  search_ef_ = 0;
  if (kind_ == VectorIndexKind::kHnsw) return OpenOrRebuildGraph(conn, settings);
  // Loading the vectors is how a flat store opens, not a repair: no log line,
  // except for a graph file left behind (e.g. saved by a process that still
  // used the graph when another switched the database to flat).
  if (!options_.read_only && Env::Default()->FileExists(path_)) {
    Log("vector index " + path_ + " is not used by this database's flat index; removing it");
  }
  NS_ASSIGN_OR_RETURN(Built built, Build(conn, VectorIndexKind::kFlat, sync_stop_));
  return Install(conn, std::move(built));
}

Status VectorIndexStore::OpenOrRebuildGraph(Connection& conn, const Settings& settings) {
  const vector::HnswOptions& want = settings.hnsw;
  Env& env = *Env::Default();
  if (!env.FileExists(path_)) {
    if (want.dim == 0) {  // no vectors yet: nothing to build
      // The dimension and the log position from one snapshot, so that a
      // first vector written in between is not skipped.
      storage::ReadTransaction snapshot(conn);
      NS_RETURN_IF_ERROR(snapshot.JoinOrBegin());
      NS_ASSIGN_OR_RETURN(Settings now, ReadSettings(conn));
      if (now.hnsw.dim == 0) {
        NS_ASSIGN_OR_RETURN(applied_seq_, LastSeq(conn));
        saved_seq_ = applied_seq_;
        return Status::OK();
      }
    }
    return Rebuild(conn,
                   "vector index " + path_ + " is missing; building it from the stored vectors");
  }
  // Every open checks the header; the sections' checksums too when the file
  // is small enough to read in a few tens of milliseconds. Larger files are
  // checked by CheckIntegrity (`nodespace check`), so a cold start does not
  // read gigabytes; searches bound-check what they read meanwhile.
  vector::HnswOpenOptions open_options;
  open_options.verify_checksums = FileSize(path_) <= kVerifyOnOpenMaxBytes;
  Result<std::unique_ptr<vector::HnswIndex>> opened =
      vector::HnswIndex::Open(env, path_, open_options);
  if (!opened.ok()) {
    return Rebuild(conn, "vector index " + path_ + " is unusable (" + opened.status().message() +
                             "); rebuilding it");
  }
  const vector::HnswOptions& have = (*opened)->options();
  if (have.dim != want.dim || have.metric != want.metric) {
    return Rebuild(conn, "vector index " + path_ + " was built for " + std::to_string(have.dim) +
                             " dims (" + std::string(vector::MetricName(have.metric)) +
                             "), the database uses " + std::to_string(want.dim) + " (" +
                             std::string(vector::MetricName(want.metric)) + "); rebuilding it");
  }
  // A persisted tuning is a decision about this database (Options are only
  // this process's defaults): a graph built otherwise, e.g. saved just
  // before a crash cut a Retune short, is rebuilt to it.
  const VectorTuning have_tuning{have.m, have.ef_construction, have.ef_search, have.int8};
  const VectorTuning want_tuning{want.m, want.ef_construction, want.ef_search, want.int8};
  if (settings.tuning && (have.m != want.m || have.ef_construction != want.ef_construction ||
                          have.int8 != want.int8)) {
    return Rebuild(conn, "vector index " + path_ + " was built with " +
                             DescribeTuning(have_tuning) + ", the database's tuning is " +
                             DescribeTuning(want_tuning) + "; rebuilding it");
  }
  NS_ASSIGN_OR_RETURN(int64_t last, LastSeq(conn));
  const auto file_seq = static_cast<int64_t>((*opened)->applied_seq());
  if (file_seq > last) {
    // The database went back in time (restored from an older copy).
    return Rebuild(conn, "vector index " + path_ + " is newer than the database (change " +
                             std::to_string(file_seq) + " > " + std::to_string(last) +
                             "); rebuilding it");
  }
  index_ = std::move(*opened);
  // A quantized graph keeps its floats mapped and warmed like the rest: it
  // re-scores from them, and releasing them at open made every re-scored
  // vector a pread (or, left unwarmed, a page fault), which cost more than
  // the walk itself for a large k (thousands of hits filtered afterwards).
  // Memory pressure still releases them (ReleaseMemory).
  StartWarmUpLocked();
  // The beam is a search parameter: no rebuild for it.
  if (settings.tuning && have.ef_search != want.ef_search) search_ef_ = want.ef_search;
  tuning_ = have_tuning;
  if (search_ef_ != 0) tuning_.ef_search = search_ef_;
  applied_seq_ = saved_seq_ = file_seq;
  return Status::OK();
}

Status VectorIndexStore::Rebuild(Connection& conn, const std::string& why) {
  Log(why);
  NS_ASSIGN_OR_RETURN(Built built, Build(conn, kind_, sync_stop_));
  const size_t count = built.hnsw ? built.hnsw->size() : built.flat ? built.flat->size() : 0;
  const double millis = built.millis;
  NS_RETURN_IF_ERROR(Install(conn, std::move(built)));
  if (count > 0) {
    Log("vector index rebuilt: " + std::to_string(count) + " vectors in " +
        std::to_string(static_cast<int64_t>(millis)) + " ms");
  }
  return Status::OK();
}

Status VectorIndexStore::CatchUp(Connection& conn, int64_t to_seq,
                                 const std::function<void()>& after_read) {
  std::set<int64_t> removed_rows;
  std::vector<std::string> touched;
  std::unordered_set<std::string> seen;
  {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn.Prepare("SELECT op, node_id, payload FROM changes WHERE seq > ?1 AND "
                                     "seq <= ?2 ORDER BY seq"));
    ScopedStatement s(*stmt);
    s->Bind(1, applied_seq_).Bind(2, to_seq);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      const auto op = static_cast<ChangeOp>(s->ColumnInt(0));
      if (op == ChangeOp::kEdgeAdd || op == ChangeOp::kEdgeRemove) continue;
      std::string id = s->ColumnString(1);
      if (op == ChangeOp::kDelete) {
        auto payload = nlohmann::json::parse(s->ColumnText(2), nullptr, false);
        if (payload.is_object() && payload.contains("row") && payload["row"].is_number_integer()) {
          removed_rows.insert(payload["row"].get<int64_t>());
        }
      }
      if (seen.insert(id).second) touched.push_back(std::move(id));
    }
  }
  if (!index_ && !flat_) {
    // The first vector arrived since the store opened.
    NS_ASSIGN_OR_RETURN(Settings settings, ReadSettings(conn));
    const vector::HnswOptions& o = settings.hnsw;
    if (o.dim != 0 && kind_ == VectorIndexKind::kHnsw) {
      NS_ASSIGN_OR_RETURN(index_, vector::HnswIndex::Create(o));
      saved_seq_ = -1;
    } else if (o.dim != 0) {
      flat_ = std::make_unique<vector::FlatIndex>(o.dim, o.metric);
    }
  }
  if (index_ || flat_) {
    // Read every touched node's state first, then let the caller end its
    // snapshot (after_read) before the graph work, which takes far longer
    // than the reads and must not keep the WAL from being checkpointed.
    // A node of another partition (moved out, or never ours) reads as
    // having no vector here; its embedding is not even loaded.
    struct Refresh {
      int64_t rowid;
      std::vector<float> vector;  // empty: no live vector here
    };
    std::vector<Refresh> refreshes;
    refreshes.reserve(touched.size());
    {
      NS_ASSIGN_OR_RETURN(
          Statement * stmt,
          conn.Prepare("SELECT rowid, lifecycle, CASE WHEN ?2 = 0 OR partition_id = "
                       "?2 THEN embedding END FROM nodes WHERE id = ?1"));
      for (const std::string& id : touched) {
        ScopedStatement s(*stmt);
        s->Bind(1, id).Bind(2, partition_);
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) continue;  // deleted: handled below
        Refresh r{s->ColumnInt(0), {}};
        if (s->ColumnInt(1) == 0 && !s->ColumnIsNull(2)) {
          const std::span<const float> v = BlobAsVector(*s, 2);
          r.vector.assign(v.begin(), v.end());
        }
        refreshes.push_back(std::move(r));
      }
    }
    if (after_read) after_read();
    auto contains = [&](int64_t row) {
      return index_ ? index_->Contains(row) : flat_->Contains(row);
    };
    auto remove = [&](int64_t row) { return index_ ? index_->Remove(row) : flat_->Remove(row); };
    // Deletions first: a row freed by a delete may hold a new node by now,
    // which the refresh below puts back.
    for (int64_t row : removed_rows) {
      if (contains(row)) NS_RETURN_IF_ERROR(remove(row));
    }
    for (const Refresh& r : refreshes) {
      if (!r.vector.empty()) {
        NS_RETURN_IF_ERROR(index_ ? index_->Upsert(r.rowid, r.vector)
                                  : flat_->Upsert(r.rowid, r.vector));
      } else if (contains(r.rowid)) {
        NS_RETURN_IF_ERROR(remove(r.rowid));
      }
    }
  }
  applied_seq_ = to_seq;
  return Status::OK();
}

Status VectorIndexStore::Verify() {
  std::unique_lock lock(mu_);
  Env& env = *Env::Default();
  if (!env.FileExists(path_)) return Status::OK();
  vector::HnswOpenOptions o;
  o.verify_checksums = true;
  Result<std::unique_ptr<vector::HnswIndex>> opened = vector::HnswIndex::Open(env, path_, o);
  if (!opened.ok()) {
    return Status::Corruption("vector index " + path_ + ": " + opened.status().message() +
                              "; delete the file and the next vector search rebuilds it");
  }
  return Status::OK();
}

Status VectorIndexStore::SaveLocked() {
  if (kind_ != VectorIndexKind::kHnsw) return Status::OK();  // a flat store has no file
  if (applied_seq_ == saved_seq_ || options_.read_only) return Status::OK();
  Env& env = *Env::Default();
  if (!index_) {
    // No vectors: a stale file must not come back to life.
    if (env.FileExists(path_)) NS_RETURN_IF_ERROR(env.RemoveFile(path_));
  } else {
    NS_RETURN_IF_ERROR(index_->Save(env, path_, static_cast<uint64_t>(applied_seq_)));
  }
  saved_seq_ = applied_seq_;
  return Status::OK();
}

std::string VectorIndexStore::PartitionCondition() const {
  return partition_ == 0 ? std::string() : " AND partition_id = " + std::to_string(partition_);
}

std::string VectorIndexStore::TuningKey() const {
  return partition_ == 0 ? std::string(kTuningKey)
                         : std::string(kTuningKey) + ":p" + std::to_string(partition_);
}

Result<VectorAnswer> VectorIndexStore::Search(Connection& conn, const VectorQuery& query) {
  NS_RETURN_IF_ERROR(Sync(conn));
  return Search(query);
}

Result<VectorIndexStore::Answer> VectorIndexStore::Search(const Query& query) const {
  std::shared_lock lock(mu_);
  Answer out;
  if (!index_ && !flat_) {
    out.plan = query.allowed ? "exact_filtered" : "exact";
    return out;
  }
  // A partition's index holds only its own rows: the caller's allowed set
  // spans every partition, and what it allows elsewhere must not make the
  // filter look less selective here than it is.
  Query q = query;
  std::vector<int64_t> own_allowed;
  if (partition_ != 0 && q.allowed != nullptr) {
    for (int64_t row : *q.allowed) {
      if (index_ ? index_->Contains(row) : flat_->Contains(row)) own_allowed.push_back(row);
    }
    q.allowed = &own_allowed;
  }
  const size_t dim = index_ ? index_->options().dim : flat_->dim();
  if (q.vector.size() != dim) {
    return Status::InvalidArgument("vector has " + std::to_string(q.vector.size()) +
                                   " dims, database uses " + std::to_string(dim));
  }
  if (flat_) {
    out.index_size = static_cast<int64_t>(flat_->size());
    if (q.allowed != nullptr) {
      out.plan = "exact_filtered";
      NS_ASSIGN_OR_RETURN(out.result, flat_->SearchAllowed(q.vector, q.k, *q.allowed));
    } else {
      out.plan = "exact";
      NS_ASSIGN_OR_RETURN(out.result, flat_->Search(q.vector, q.k));
    }
    return out;
  }
  const auto size = static_cast<int64_t>(index_->size());
  out.index_size = size;
  const size_t ef = q.ef != 0 ? q.ef : search_ef_;
  if (q.allowed != nullptr) {
    const auto allowed = static_cast<int64_t>(q.allowed->size());
    if (q.exact || size <= static_cast<int64_t>(options_.exact_search_max_vectors) ||
        vector::RecommendSearchPlan(allowed, size, index_->FilteredBeam(q.k, ef, allowed),
                                    index_->options().int8 && index_->quantizer_trained()
                                        ? vector::kExactScanPerBeam
                                        : vector::kExactFloatScanPerBeam) ==
            vector::SearchPlan::kExact) {
      out.plan = "exact_filtered";
      NS_ASSIGN_OR_RETURN(out.result, index_->SearchExactAllowed(q.vector, q.k, *q.allowed));
    } else {
      out.plan = "graph_filtered";
      vector::LabelBitsetFilter filter(q.allowed->empty() ? 0 : q.allowed->back() + 1);
      for (int64_t label : *q.allowed) filter.Allow(label);
      NS_ASSIGN_OR_RETURN(out.result, index_->Search(q.vector, q.k, ef, &filter));
      // The walk collects the allowed nodes it meets near the query. When
      // they lie elsewhere in the graph (a filter the query's meaning rarely
      // matches: a 10 % lexname list at 1M returned 3 of 10) it comes back
      // short though more are allowed; a scan of them is exact and costs
      // what a walk does at this size (100,000 int8 codes in a few ms).
      if (out.result.neighbors.size() < std::min(q.k, q.allowed->size())) {
        NS_ASSIGN_OR_RETURN(vector::SearchResult scanned,
                            index_->SearchExactAllowed(q.vector, q.k, *q.allowed));
        out.plan = "graph_filtered (" + std::to_string(out.result.neighbors.size()) + " of " +
                   std::to_string(q.k) + "), then exact_filtered";
        out.result = std::move(scanned);
      }
    }
    return out;
  }
  if (q.exact || size <= static_cast<int64_t>(options_.exact_search_max_vectors)) {
    out.plan = "exact";
    NS_ASSIGN_OR_RETURN(out.result, index_->SearchExact(q.vector, q.k));
  } else {
    out.plan = q.codes_only && index_->options().int8 && index_->quantizer_trained()
                   ? "graph on codes"
                   : "graph";
    NS_ASSIGN_OR_RETURN(out.result,
                        index_->Search(q.vector, q.k, ef, nullptr, nullptr,
                                       q.codes_only ? vector::HnswIndex::Rescore::kNone
                                                    : vector::HnswIndex::Rescore::kBest));
  }
  return out;
}

// ---- maintenance ------------------------------------------------------------

Status VectorIndexStore::BuildAndInstall(Connection& conn, VectorIndexKind kind,
                                         const std::string& what) {
  // Built outside mu_: searches keep using the current index meanwhile.
  NS_ASSIGN_OR_RETURN(Built built, Build(conn, kind));
  const size_t count = built.hnsw ? built.hnsw->size() : built.flat ? built.flat->size() : 0;
  const double millis = built.millis;
  {
    std::unique_lock lock(mu_);
    NS_RETURN_IF_ERROR(Install(conn, std::move(built)));
  }
  Log("vector index: " +
      std::string(kind == VectorIndexKind::kHnsw ? "HNSW graph " : "flat (exact) index ") + what +
      " over " + std::to_string(count) + " vectors in " +
      std::to_string(static_cast<int64_t>(millis)) + " ms");
  return Status::OK();
}

Status VectorIndexStore::UseIndexKind(Connection& conn, VectorIndexKind kind) {
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  std::lock_guard maintenance(maintenance_mu_);
  NS_RETURN_IF_ERROR(CheckIdle(conn, "changing the vector index kind"));
  NS_RETURN_IF_ERROR(PutMeta(conn, kKindKey, std::string(VectorIndexKindName(kind))));
  // Should the build fail, the previous index stays in use until the next
  // open, which builds the kind now on disk.
  return BuildAndInstall(conn, kind, "built");
}

Status VectorIndexStore::Retune(Connection& conn, const VectorTuning& tuning) {
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  NS_RETURN_IF_ERROR(CheckTuning(tuning));
  std::lock_guard maintenance(maintenance_mu_);
  NS_RETURN_IF_ERROR(CheckIdle(conn, "retuning the vector index"));
  // The kind on disk decides (it is what the next open would build).
  NS_ASSIGN_OR_RETURN(Settings settings, ReadSettings(conn));
  // The graph in use is opened under its own tuning first: a change it can
  // take in place (RetuneInPlace) is then not a rebuild.
  if (settings.kind == VectorIndexKind::kHnsw && Env::Default()->FileExists(path_)) {
    NS_RETURN_IF_ERROR(Sync(conn));
  }
  NS_RETURN_IF_ERROR(PutMeta(conn, TuningKey(), TuningToJson(tuning)));
  if (settings.kind == VectorIndexKind::kHnsw) {
    NS_ASSIGN_OR_RETURN(bool done, RetuneInPlace(tuning));
    if (done) return Status::OK();
    return BuildAndInstall(conn, VectorIndexKind::kHnsw, "rebuilt with " + DescribeTuning(tuning));
  }
  {
    std::unique_lock lock(mu_);
    tuning_ = tuning;
  }
  Log("vector index: tuning " + DescribeTuning(tuning) +
      " saved; the flat index does not use it, an HNSW graph built later will");
  return Status::OK();
}

Result<int64_t> VectorIndexStore::ReclaimTombstones(double min_fraction) {
  std::unique_lock lock(mu_);
  if (!opened_ || kind_ != VectorIndexKind::kHnsw || !index_) return int64_t{0};
  const auto slots = static_cast<int64_t>(index_->slot_count());
  const auto deleted = static_cast<int64_t>(index_->deleted_count());
  if (deleted == 0 || static_cast<double>(deleted) <= min_fraction * static_cast<double>(slots)) {
    return int64_t{0};
  }
  const auto start = Clock::now();
  NS_RETURN_IF_ERROR(index_->Compact());
  saved_seq_ = -1;  // the file still holds the tombstones
  NS_RETURN_IF_ERROR(SaveLocked());
  const int64_t reclaimed = slots - static_cast<int64_t>(index_->slot_count());
  Log("vector index: HNSW graph compacted, " + std::to_string(reclaimed) + " of " +
      std::to_string(slots) + " slots reclaimed in " +
      std::to_string(static_cast<int64_t>(MillisSince(start))) + " ms");
  return reclaimed;
}

Result<bool> VectorIndexStore::WalksOnFloats(Connection& conn) const {
  NS_ASSIGN_OR_RETURN(Settings settings, ReadSettings(conn));
  return settings.kind == VectorIndexKind::kHnsw && !settings.hnsw.int8;
}

Status VectorIndexStore::RecordInt8Tuning(Connection& conn) {
  if (options_.read_only) return Status::NotSupported("database is open read-only");
  NS_ASSIGN_OR_RETURN(Settings settings, ReadSettings(conn));
  const vector::HnswOptions& o = settings.hnsw;
  return PutMeta(conn, TuningKey(),
                 TuningToJson(VectorTuning{o.m, o.ef_construction, o.ef_search, true}));
}

Result<bool> VectorIndexStore::RetuneInPlace(const VectorTuning& tuning) {
  std::unique_lock lock(mu_);
  if (!opened_ || kind_ != VectorIndexKind::kHnsw || !index_) return false;
  const vector::HnswOptions& have = index_->options();
  if (have.m != tuning.m || have.ef_construction != tuning.ef_construction ||
      (have.int8 && !tuning.int8)) {
    return false;  // other links, or codes dropped: a rebuild
  }
  // The beam is a search parameter (the persisted tuning sets it at open).
  search_ef_ = tuning.ef_search != have.ef_search ? tuning.ef_search : 0;
  tuning_ = tuning;
  if (have.int8 || !tuning.int8) {
    Log("vector index: search beam set to " + std::to_string(tuning.ef_search) +
        "; the graph stays as built");
    return true;
  }
  const auto start = Clock::now();
  NS_RETURN_IF_ERROR(index_->Quantize());
  const size_t vectors = index_->size();
  lock.unlock();
  // The file must say int8 too, or the next open would rebuild to match the
  // persisted tuning. Saving takes seconds for a large graph: searches go
  // on meanwhile (shared lock); catch-up waits.
  int64_t file_seq = 0;
  if (!options_.read_only) {
    std::shared_lock shared(mu_);
    file_seq = applied_seq_;
    NS_RETURN_IF_ERROR(index_->Save(*Env::Default(), path_, static_cast<uint64_t>(file_seq)));
  }
  size_t released = 0;
  lock.lock();
  if (!options_.read_only && index_ && applied_seq_ == file_seq) {
    // Nothing applied since the save: serve the new file's codes from its
    // mapping and let the float vectors' pages go.
    saved_seq_ = file_seq;
    NS_RETURN_IF_ERROR(MapLocked());
    released = index_->ReleaseVectorPages();
  } else if (!options_.read_only) {
    saved_seq_ = file_seq;  // later changes are saved by the next save
  }
  Log("vector index: HNSW graph quantized to int8 in place (" + std::to_string(vectors) +
      " vectors, " + std::to_string(static_cast<int64_t>(MillisSince(start))) + " ms); " +
      std::to_string(released >> 20) + " MiB of float vectors released from memory");
  return true;
}

Status VectorIndexStore::ReleaseMemory() {
  std::unique_lock lock(mu_);
  if (!opened_ || kind_ != VectorIndexKind::kHnsw || !index_) return Status::OK();
  // Memory is wanted back: no more of the file is mapped in.
  StopWarmUp();
  if (index_->is_mapped()) {
    // A quantized graph reads floats only to re-score candidates.
    index_->ReleaseVectorPages();
    return Status::OK();
  }
  if (applied_seq_ != saved_seq_) {
    // Dropping unsaved changes would only move the work to the next Sync,
    // which copies the graph back into memory to replay them.
    if (options_.read_only) return Status::OK();
    NS_RETURN_IF_ERROR(SaveLocked());
  }
  NS_RETURN_IF_ERROR(MapLocked());
  index_->ReleaseVectorPages();
  return Status::OK();
}

Status VectorIndexStore::MapLocked() {
  Env& env = *Env::Default();
  vector::HnswOpenOptions open_options;
  open_options.verify_checksums = FileSize(path_) <= kVerifyOnOpenMaxBytes;
  Result<std::unique_ptr<vector::HnswIndex>> opened =
      vector::HnswIndex::Open(env, path_, open_options);
  if (!opened.ok()) {
    return Status::IOError("vector index " + path_ + " could not be mapped (" +
                           opened.status().message() + "); the graph stays in memory");
  }
  const vector::HnswOptions& have = (*opened)->options();
  const vector::HnswOptions& mine = index_->options();
  if (static_cast<int64_t>((*opened)->applied_seq()) != applied_seq_ || have.dim != mine.dim ||
      have.metric != mine.metric || have.m != mine.m) {
    // Another process saved its own graph over ours meanwhile. Either is
    // valid, but only ours matches applied_seq_: keep it.
    Log("vector index " + path_ + " was rewritten by another process; the graph stays in memory");
    return Status::OK();
  }
  StopWarmUp();  // of the mapping this one replaces
  index_ = std::move(*opened);
  return Status::OK();
}

void VectorIndexStore::StartWarmUpLocked() {
  StopWarmUp();
  if (!index_) return;
  vector::HnswIndex::WarmRanges warm = index_->RangesToWarm();
  size_t total = 0;
  for (const auto& range : warm.ranges) total += range.second;
  if (warm.file == nullptr || total == 0) return;
  auto state = std::make_shared<WarmUp>();
  warm_ = state;
  warm_thread_ = std::thread([state, warm = std::move(warm)] {
    constexpr size_t kStep = size_t{32} << 20;
    for (const auto& [begin, length] : warm.ranges) {
      for (size_t done = 0; done < length && !state->stop.load(); done += kStep) {
        const size_t step = std::min(kStep, length - done);
        warm.file->Populate(begin + done, step);
        state->bytes.fetch_add(static_cast<int64_t>(step));
      }
    }
    state->running.store(false);
  });
}

void VectorIndexStore::StopWarmUp() {
  if (warm_) warm_->stop.store(true);
  if (warm_thread_.joinable()) warm_thread_.join();
}

void VectorIndexStore::ForgetLocked() {
  StopWarmUp();
  index_.reset();
  flat_.reset();
  applied_seq_ = saved_seq_ = 0;
  search_ef_ = 0;
  opened_ = false;
  kind_ = Env::Default()->FileExists(path_) || !options_.scaling.enabled ? VectorIndexKind::kHnsw
                                                                         : VectorIndexKind::kFlat;
}

void VectorIndexStore::Invalidate() {
  // Waits for a build in progress: what it read predates the restore.
  std::lock_guard maintenance(maintenance_mu_);
  std::unique_lock lock(mu_);
  ForgetLocked();
}

VectorIndexInfo VectorIndexStore::Info() const {
  std::shared_lock lock(mu_);
  VectorIndexInfo info;
  info.kind = kind_;
  info.tuning = tuning_;
  info.file_bytes = std::max<int64_t>(0, FileSize(path_));
  if (warm_) {
    info.warmed_bytes = warm_->bytes.load();
    info.warm_up_running = warm_->running.load();
  }
  if (index_) {
    const vector::HnswOptions& o = index_->options();
    info.size = static_cast<int64_t>(index_->size());
    info.deleted = static_cast<int64_t>(index_->deleted_count());
    info.memory_bytes = static_cast<int64_t>(index_->MemoryUsage());
    info.mapped = index_->is_mapped();
    info.quantizer_trained = index_->quantizer_trained();
    info.tuning = {o.m, o.ef_construction, search_ef_ != 0 ? search_ef_ : o.ef_search, o.int8};
  } else if (flat_) {
    info.size = static_cast<int64_t>(flat_->size());
    // FlatIndex keeps one float row and one label per vector, plus a hash map
    // entry (a heap node of about 32 bytes) to find the row.
    info.memory_bytes =
        info.size * static_cast<int64_t>(flat_->dim() * sizeof(float) + sizeof(int64_t) + 32);
  }
  return info;
}

}  // namespace nodespace
