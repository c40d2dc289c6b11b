#include "db/vector_store.h"

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

// Replaying more changes than this (or than the index holds) costs more
// than reading every vector again.
constexpr int64_t kMaxReplay = 200000;
constexpr int64_t kVerifyOnOpenMaxBytes = int64_t{256} << 20;
// Closing saves the index only when it is this many changes ahead of its file.
constexpr int64_t kSaveOnCloseMinChanges = 1000;

int64_t FileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

std::span<const float> BlobAsVector(const Statement& s, int col) {
  return {static_cast<const float*>(s.ColumnBlob(col)),
          static_cast<size_t>(s.ColumnBytes(col)) / sizeof(float)};
}

}  // namespace

VectorStore::VectorStore(std::string dir, const Options& options)
    : path_(std::move(dir) + "/vectors.idx"), options_(options) {}

VectorStore::~VectorStore() {
  std::unique_lock lock(mu_);
  // Rewriting a large file for a handful of changes would make every short
  // session (one CLI command) pay for the whole index; the next open replays
  // them from the change log instead. A rebuilt index is always saved.
  const bool worth_saving = saved_seq_ < 0 || applied_seq_ - saved_seq_ >= kSaveOnCloseMinChanges;
  if (!options_.read_only && worth_saving) {
    Status st = SaveLocked();
    if (!st.ok()) Log("could not save the vector index: " + st.message());
  }
}

void VectorStore::Log(const std::string& line) const {
  if (options_.info_log) {
    options_.info_log(line);
  } else {
    std::cerr << "nodespace: " << line << "\n";
  }
}

Result<vector::HnswOptions> VectorStore::IndexOptions(Connection& conn) {
  NS_ASSIGN_OR_RETURN(std::optional<std::string> dim, storage::ReadMeta(conn, "embedding_dim"));
  NS_ASSIGN_OR_RETURN(std::optional<std::string> metric, storage::ReadMeta(conn, "vector_metric"));
  vector::HnswOptions o;
  o.dim = dim ? std::stoul(*dim) : 0;
  NS_ASSIGN_OR_RETURN(o.metric, vector::ParseMetric(metric ? *metric : "cosine"));
  o.m = options_.hnsw_m;
  o.ef_construction = options_.hnsw_ef_construction;
  o.ef_search = options_.hnsw_ef_search;
  return o;
}

Status VectorStore::Sync(Connection& conn) {
  NS_ASSIGN_OR_RETURN(int64_t last, conn.QueryInt("SELECT coalesce(max(seq), 0) FROM changes"));
  {
    std::shared_lock lock(mu_);
    if (opened_ && applied_seq_ >= last) return Status::OK();
  }
  std::unique_lock lock(mu_);
  if (!opened_) {
    NS_RETURN_IF_ERROR(OpenOrRebuild(conn));
    opened_ = true;
  }
  if (applied_seq_ < last) {
    const int64_t behind = last - applied_seq_;
    const int64_t held = index_ ? static_cast<int64_t>(index_->size()) : 0;
    if (behind > kMaxReplay && behind > held) {
      NS_RETURN_IF_ERROR(Rebuild(
          conn, "vector index is " + std::to_string(behind) + " changes behind; rebuilding it"));
    } else {
      NS_RETURN_IF_ERROR(CatchUp(conn, last));
    }
  }
  if (!options_.read_only &&
      applied_seq_ - saved_seq_ >= static_cast<int64_t>(options_.vector_index_save_every)) {
    NS_RETURN_IF_ERROR(SaveLocked());
  }
  return Status::OK();
}

Status VectorStore::OpenOrRebuild(Connection& conn) {
  NS_ASSIGN_OR_RETURN(vector::HnswOptions want, IndexOptions(conn));
  Env& env = *Env::Default();
  if (!env.FileExists(path_)) {
    if (want.dim == 0) return Status::OK();  // no vectors yet: nothing to build
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
  NS_ASSIGN_OR_RETURN(int64_t last, conn.QueryInt("SELECT coalesce(max(seq), 0) FROM changes"));
  const auto file_seq = static_cast<int64_t>((*opened)->applied_seq());
  if (file_seq > last) {
    // The database went back in time (restored from an older copy).
    return Rebuild(conn, "vector index " + path_ + " is newer than the database (change " +
                             std::to_string(file_seq) + " > " + std::to_string(last) +
                             "); rebuilding it");
  }
  index_ = std::move(*opened);
  applied_seq_ = saved_seq_ = file_seq;
  return Status::OK();
}

Status VectorStore::Rebuild(Connection& conn, const std::string& why) {
  Log(why);
  const auto start = std::chrono::steady_clock::now();
  NS_ASSIGN_OR_RETURN(int64_t last, conn.QueryInt("SELECT coalesce(max(seq), 0) FROM changes"));
  NS_ASSIGN_OR_RETURN(vector::HnswOptions o, IndexOptions(conn));
  index_.reset();
  applied_seq_ = last;
  saved_seq_ = -1;  // force a save
  if (o.dim == 0) return SaveLocked();
  NS_ASSIGN_OR_RETURN(index_, vector::HnswIndex::Create(o));
  NS_ASSIGN_OR_RETURN(int64_t count, conn.QueryInt("SELECT count(*) FROM nodes WHERE lifecycle = "
                                                   "0 AND embedding IS NOT NULL"));
  index_->Reserve(static_cast<size_t>(count));
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn.Prepare("SELECT rowid, embedding FROM nodes WHERE lifecycle = 0 AND "
                                   "embedding IS NOT NULL ORDER BY rowid"));
  ScopedStatement s(*stmt);
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    NS_RETURN_IF_ERROR(index_->Insert(s->ColumnInt(0), BlobAsVector(*s, 1)));
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log("vector index rebuilt: " + std::to_string(index_->size()) + " vectors in " +
      std::to_string(static_cast<int>(secs * 1000)) + " ms");
  return SaveLocked();
}

Status VectorStore::CatchUp(Connection& conn, int64_t to_seq) {
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
  if (!index_) {
    NS_ASSIGN_OR_RETURN(vector::HnswOptions o, IndexOptions(conn));
    if (o.dim != 0) {
      NS_ASSIGN_OR_RETURN(index_, vector::HnswIndex::Create(o));
      saved_seq_ = -1;
    }
  }
  if (index_) {
    // Deletions first: a row freed by a delete may hold a new node by now,
    // which the refresh below puts back.
    for (int64_t row : removed_rows) {
      if (index_->Contains(row)) NS_RETURN_IF_ERROR(index_->Remove(row));
    }
    NS_ASSIGN_OR_RETURN(
        Statement * stmt,
        conn.Prepare("SELECT rowid, lifecycle, embedding FROM nodes WHERE id = ?1"));
    for (const std::string& id : touched) {
      ScopedStatement s(*stmt);
      s->Bind(1, id);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) continue;  // deleted: handled above
      const int64_t rowid = s->ColumnInt(0);
      if (s->ColumnInt(1) == 0 && !s->ColumnIsNull(2)) {
        NS_RETURN_IF_ERROR(index_->Upsert(rowid, BlobAsVector(*s, 2)));
      } else if (index_->Contains(rowid)) {
        NS_RETURN_IF_ERROR(index_->Remove(rowid));
      }
    }
  }
  applied_seq_ = to_seq;
  return Status::OK();
}

Status VectorStore::Verify() {
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

Status VectorStore::SaveLocked() {
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

Result<VectorStore::Answer> VectorStore::Search(const Query& q) const {
  std::shared_lock lock(mu_);
  Answer out;
  if (!index_) {
    out.plan = q.allowed ? "exact_filtered" : "exact";
    return out;
  }
  const size_t dim = index_->options().dim;
  if (q.vector.size() != dim) {
    return Status::InvalidArgument("vector has " + std::to_string(q.vector.size()) +
                                   " dims, database uses " + std::to_string(dim));
  }
  const auto size = static_cast<int64_t>(index_->size());
  out.index_size = size;
  if (q.allowed != nullptr) {
    const auto allowed = static_cast<int64_t>(q.allowed->size());
    if (q.exact || size <= static_cast<int64_t>(options_.exact_search_max_vectors) ||
        vector::RecommendSearchPlan(allowed, size) == vector::SearchPlan::kExact) {
      out.plan = "exact_filtered";
      NS_ASSIGN_OR_RETURN(out.result, index_->SearchExactAllowed(q.vector, q.k, *q.allowed));
    } else {
      out.plan = "graph_filtered";
      vector::LabelBitsetFilter filter(q.allowed->empty() ? 0 : q.allowed->back() + 1);
      for (int64_t label : *q.allowed) filter.Allow(label);
      NS_ASSIGN_OR_RETURN(out.result, index_->Search(q.vector, q.k, q.ef, &filter));
    }
    return out;
  }
  if (q.exact || size <= static_cast<int64_t>(options_.exact_search_max_vectors)) {
    out.plan = "exact";
    NS_ASSIGN_OR_RETURN(out.result, index_->SearchExact(q.vector, q.k));
  } else {
    out.plan = "graph";
    NS_ASSIGN_OR_RETURN(out.result, index_->Search(q.vector, q.k, q.ef));
  }
  return out;
}

}  // namespace nodespace
