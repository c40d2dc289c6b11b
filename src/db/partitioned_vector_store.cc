#include "db/partitioned_vector_store.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "env/env.h"
#include "model/ids.h"
#include "storage/meta.h"

namespace nodespace {

namespace fs = std::filesystem;
using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

namespace {

// The split writes meta `partitioning` = {"state": "splitting" | "active",
// ...}; only an active layout routes searches to the partitions (while a
// split runs, the whole-database index still covers every node).
Result<bool> LayoutActive(Connection& conn) {
  NS_ASSIGN_OR_RETURN(std::optional<std::string> value, storage::ReadMeta(conn, "partitioning"));
  if (!value) return false;
  auto json = nlohmann::json::parse(*value, nullptr, false);
  return json.is_object() && json.value("state", "") == "active";
}

}  // namespace

PartitionedVectorStore::PartitionedVectorStore(std::string db_dir, const Options& options)
    : dir_(std::move(db_dir)), options_(options), whole_(dir_, options_, 0) {}

PartitionedVectorStore::~PartitionedVectorStore() = default;

std::string PartitionedVectorStore::PartitionDir(const std::string& db_dir, int64_t id) {
  std::string name = "p";
  name += std::to_string(id);
  return (fs::path(db_dir) / "partitions" / name).string();
}

Result<bool> PartitionedVectorStore::Refresh(Connection& conn) {
  NS_ASSIGN_OR_RETURN(bool active, LayoutActive(conn));
  partitioned_.store(active);
  return active;
}

Result<std::vector<PartitionedVectorStore::Range>> PartitionedVectorStore::ReadRanges(
    Connection& conn) {
  // min/max over the (partition_id, created_at) index: two seeks each.
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn.Prepare("SELECT p.id, (SELECT min(created_at) FROM nodes WHERE "
                                   "partition_id = p.id), (SELECT max(created_at) FROM nodes "
                                   "WHERE partition_id = p.id) FROM partitions p ORDER BY p.id"));
  ScopedStatement s(*stmt);
  std::vector<Range> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    Range r;
    r.id = s->ColumnInt(0);
    if (!s->ColumnIsNull(1)) r.min_created = s->ColumnInt(1);
    if (!s->ColumnIsNull(2)) r.max_created = s->ColumnInt(2);
    out.push_back(r);
  }
  return out;
}

Result<std::shared_ptr<VectorIndexStore>> PartitionedVectorStore::StoreFor(int64_t id) {
  std::lock_guard lock(mu_);
  auto it = parts_.find(id);
  if (it != parts_.end()) return it->second;
  const std::string dir = PartitionDir(dir_, id);
  if (!options_.read_only) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create '" + dir + "': " + ec.message());
  }
  auto store = std::make_shared<VectorIndexStore>(dir, options_, id);
  parts_.emplace(id, store);
  return store;
}

std::vector<std::shared_ptr<VectorIndexStore>> PartitionedVectorStore::LoadedStores() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<VectorIndexStore>> out;
  for (const auto& [id, store] : parts_) out.push_back(store);
  return out;
}

void PartitionedVectorStore::Touch(int64_t id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  int64_t& at = last_access_ms_[id];
  at = std::max(at, now_ms);
}

Result<VectorAnswer> PartitionedVectorStore::Search(Connection& conn, const VectorQuery& query) {
  NS_ASSIGN_OR_RETURN(bool active, Refresh(conn));
  if (!active) return whole_.Search(conn, query);

  NS_ASSIGN_OR_RETURN(std::vector<Range> ranges, ReadRanges(conn));
  VectorAnswer out;
  std::vector<vector::Neighbor> merged;
  size_t widest = 0;  // the most neighbours one partition answered
  std::string plans;
  const int64_t now = ids::NowMs();
  for (const Range& r : ranges) {
    // A partition without nodes, or whose created_at range misses the
    // query's bounds, cannot contribute.
    const bool empty = !r.min_created || !r.max_created;
    const bool before = query.created_max && r.min_created && *r.min_created > *query.created_max;
    const bool after = query.created_min && r.max_created && *r.max_created < *query.created_min;
    if (empty || before || after) {
      ++out.partitions_pruned;
      continue;
    }
    NS_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndexStore> store, StoreFor(r.id));
    NS_ASSIGN_OR_RETURN(VectorAnswer part, store->Search(conn, query));
    Touch(r.id, now);
    ++out.partitions_searched;
    out.index_size += part.index_size;
    out.result.stats.distances_computed += part.result.stats.distances_computed;
    // Partitions on floats and on codes side by side: the caller re-scores.
    out.result.stats.code_distances |= part.result.stats.code_distances;
    widest = std::max(widest, part.result.neighbors.size());
    merged.insert(merged.end(), part.result.neighbors.begin(), part.result.neighbors.end());
    if (plans.find(part.plan) == std::string::npos) {
      if (!plans.empty()) plans += '+';
      plans += part.plan;
    }
  }
  // Code-ranked answers carry more than k (the candidates a re-score would
  // take); as many as one partition gave are kept for the caller's re-score.
  const size_t keep = std::min(
      out.result.stats.code_distances ? std::max(query.k, widest) : query.k, merged.size());
  std::partial_sort(merged.begin(), merged.begin() + static_cast<ptrdiff_t>(keep), merged.end(),
                    [](const vector::Neighbor& a, const vector::Neighbor& b) {
                      return a.distance != b.distance ? a.distance < b.distance : a.label < b.label;
                    });
  merged.resize(keep);
  out.result.neighbors = std::move(merged);
  out.plan = "partitions(" + std::to_string(out.partitions_searched) + " of " +
             std::to_string(ranges.size()) + "): " + (plans.empty() ? "none" : plans);
  return out;
}

Status PartitionedVectorStore::ApplyChanges(Connection& conn, const std::atomic<bool>* stop) {
  NS_ASSIGN_OR_RETURN(bool active, Refresh(conn));
  if (!active) return whole_.Sync(conn, stop);
  for (const auto& store : LoadedStores()) NS_RETURN_IF_ERROR(store->Sync(conn, stop));
  return Status::OK();
}

Status PartitionedVectorStore::PreparePartitions(Connection& conn,
                                                 const std::vector<int64_t>& ids) {
  for (int64_t id : ids) NS_RETURN_IF_ERROR(LoadPartition(conn, id).status());
  return Status::OK();
}

Result<VectorIndexStore*> PartitionedVectorStore::LoadPartition(Connection& conn, int64_t id) {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndexStore> store, StoreFor(id));
  NS_RETURN_IF_ERROR(store->Sync(conn));
  return store.get();
}

Result<bool> PartitionedVectorStore::Unload(int64_t id) {
  std::shared_ptr<VectorIndexStore> store;
  {
    std::lock_guard lock(mu_);
    auto it = parts_.find(id);
    if (it == parts_.end()) return false;
    store = std::move(it->second);
    parts_.erase(it);
  }
  // The destructor saves what the file lacks (when worth it); a search that
  // still holds the store finishes with it, and the last owner frees it.
  NS_RETURN_IF_ERROR(store->ReleaseMemory());
  return true;
}

Status PartitionedVectorStore::RetunePartition(Connection& conn, int64_t id,
                                               const VectorTuning& tuning) {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndexStore> store, StoreFor(id));
  NS_RETURN_IF_ERROR(store->Sync(conn));
  return store->Retune(conn, tuning);
}

Result<int64_t> PartitionedVectorStore::CompactPartition(Connection& conn, int64_t id,
                                                         double min_fraction) {
  NS_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndexStore> store, StoreFor(id));
  NS_RETURN_IF_ERROR(store->Sync(conn));
  return store->ReclaimTombstones(min_fraction);
}

std::vector<PartitionVectorState> PartitionedVectorStore::Partitions() const {
  std::lock_guard lock(mu_);
  std::map<int64_t, PartitionVectorState> states;
  for (const auto& [id, at] : last_access_ms_) {
    states[id].id = id;
    states[id].last_access_ms = at;
  }
  for (const auto& [id, store] : parts_) {
    PartitionVectorState& s = states[id];
    s.id = id;
    s.loaded = true;
    s.info = store->Info();
  }
  std::vector<PartitionVectorState> out;
  for (auto& [id, s] : states) out.push_back(std::move(s));
  return out;
}

Status PartitionedVectorStore::DropWholeIndex() {
  whole_.Invalidate();
  const std::string file = (fs::path(dir_) / "vectors.idx").string();
  Env& env = *Env::Default();
  if (!options_.read_only && env.FileExists(file)) return env.RemoveFile(file);
  return Status::OK();
}

// ---- maintenance fan-out ------------------------------------------------------

namespace {

// Every partition id of the layout `conn` sees.
Result<std::vector<int64_t>> PartitionIds(Connection& conn) {
  std::vector<int64_t> ids;
  NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare("SELECT id FROM partitions ORDER BY id"));
  ScopedStatement s(*stmt);
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    ids.push_back(s->ColumnInt(0));
  }
  return ids;
}

// Turns int8 on, in place, for a graph that walks on floats; 1 if it did.
Result<int> QuantizeStore(Connection& conn, VectorIndexStore& store) {
  const VectorIndexInfo info = store.Info();
  if (info.kind != VectorIndexKind::kHnsw || info.size == 0 || info.tuning.int8) return 0;
  VectorTuning tuning = info.tuning;
  tuning.int8 = true;
  NS_RETURN_IF_ERROR(store.Retune(conn, tuning));
  return 1;
}

}  // namespace

Status PartitionedVectorStore::UseIndexKind(Connection& conn, VectorIndexKind kind) {
  NS_ASSIGN_OR_RETURN(bool active, Refresh(conn));
  if (!active) return whole_.UseIndexKind(conn, kind);
  NS_ASSIGN_OR_RETURN(std::vector<int64_t> ids, PartitionIds(conn));
  for (int64_t id : ids) {
    NS_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndexStore> store, StoreFor(id));
    NS_RETURN_IF_ERROR(store->UseIndexKind(conn, kind));
  }
  return Status::OK();
}

Status PartitionedVectorStore::Retune(Connection& conn, const VectorTuning& tuning) {
  NS_ASSIGN_OR_RETURN(bool active, Refresh(conn));
  if (!active) return whole_.Retune(conn, tuning);
  NS_ASSIGN_OR_RETURN(std::vector<int64_t> ids, PartitionIds(conn));
  for (int64_t id : ids) NS_RETURN_IF_ERROR(RetunePartition(conn, id, tuning));
  return Status::OK();
}

Result<int64_t> PartitionedVectorStore::ReclaimTombstones(double min_fraction) {
  if (!partitioned()) return whole_.ReclaimTombstones(min_fraction);
  int64_t total = 0;
  for (const auto& store : LoadedStores()) {
    NS_ASSIGN_OR_RETURN(int64_t n, store->ReclaimTombstones(min_fraction));
    total += n;
  }
  return total;
}

Status PartitionedVectorStore::ReleaseMemory() {
  if (!partitioned()) return whole_.ReleaseMemory();
  for (const auto& store : LoadedStores()) NS_RETURN_IF_ERROR(store->ReleaseMemory());
  return Status::OK();
}

Result<int> PartitionedVectorStore::QuantizeAll(Connection& conn) {
  NS_ASSIGN_OR_RETURN(bool active, Refresh(conn));
  int quantized = 0;
  if (!active) {
    NS_RETURN_IF_ERROR(whole_.Sync(conn));
    NS_ASSIGN_OR_RETURN(quantized, QuantizeStore(conn, whole_));
  } else {
    NS_ASSIGN_OR_RETURN(std::vector<int64_t> ids, PartitionIds(conn));
    for (int64_t id : ids) {
      NS_ASSIGN_OR_RETURN(std::shared_ptr<VectorIndexStore> store, StoreFor(id));
      NS_RETURN_IF_ERROR(store->Sync(conn));
      NS_ASSIGN_OR_RETURN(int n, QuantizeStore(conn, *store));
      quantized += n;
    }
  }
  // Last: it marks the pass done (DefaultWalksOnFloats).
  NS_RETURN_IF_ERROR(whole_.RecordInt8Tuning(conn));
  return quantized;
}

Result<bool> PartitionedVectorStore::DefaultWalksOnFloats(Connection& conn) const {
  return whole_.WalksOnFloats(conn);
}

Result<int> PartitionedVectorStore::QuantizeLoaded(Connection& conn) {
  auto quantize = [&conn](VectorIndexStore& store) { return QuantizeStore(conn, store); };
  NS_ASSIGN_OR_RETURN(bool active, Refresh(conn));
  if (!active) return quantize(whole_);
  int quantized = 0;
  for (const auto& store : LoadedStores()) {
    NS_ASSIGN_OR_RETURN(int n, quantize(*store));
    quantized += n;
  }
  return quantized;
}

void PartitionedVectorStore::Invalidate() {
  whole_.Invalidate();
  std::lock_guard lock(mu_);
  for (auto& [id, store] : parts_) store->Invalidate();
  parts_.clear();
}

Status PartitionedVectorStore::Verify() {
  NS_RETURN_IF_ERROR(whole_.Verify());
  for (const auto& store : LoadedStores()) NS_RETURN_IF_ERROR(store->Verify());
  return Status::OK();
}

VectorIndexInfo PartitionedVectorStore::Info() const {
  if (!partitioned()) return whole_.Info();
  VectorIndexInfo sum;
  bool first = true;
  for (const auto& store : LoadedStores()) {
    VectorIndexInfo info = store->Info();
    if (first) {
      sum.kind = info.kind;
      sum.tuning = info.tuning;
      sum.mapped = info.mapped;
      sum.quantizer_trained = info.quantizer_trained;
      first = false;
    }
    sum.size += info.size;
    sum.deleted += info.deleted;
    sum.memory_bytes += info.memory_bytes;
    sum.file_bytes += info.file_bytes;
    sum.warmed_bytes += info.warmed_bytes;
    sum.warm_up_running = sum.warm_up_running || info.warm_up_running;
  }
  return sum;
}

}  // namespace nodespace
