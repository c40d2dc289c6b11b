// The dedicated vector service (DedicatedVectorDB): the engine starts
// `nodespace vector-service` on its database, supervises it, and searches
// through it while it is healthy (ServiceOrLocalVectorStore falls back to the
// in-process indexes otherwise). docs/PARTITIONS.md, docs/formats/
// vector-service.md.
#include <nlohmann/json.hpp>

#include "db/database_impl.h"
#include "storage/meta.h"

namespace nodespace {

namespace {
constexpr const char* kServiceKey = "vector_service";
}  // namespace

Result<bool> Database::Impl::VectorServiceEnabled() {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(std::optional<std::string> v, storage::ReadMeta(*conn, kServiceKey));
  if (!v) return false;
  auto j = nlohmann::json::parse(*v, nullptr, false);
  return j.is_object() && j.value("enabled", false);
}

Status Database::Impl::StartVectorService() {
  if (options_.read_only) return Status::NotSupported("database was opened read-only");
  std::lock_guard lock(service_mu_);
  if (std::atomic_load(&vector_service_)) return Status::OK();
  service::VectorServiceSupervisorOptions o;
  o.binary = options_.vector_service_binary;
  o.db_dir = path_;
  o.log = [this](std::string_view line) { Log(std::string(line)); };
  // The service builds and searches as this engine would.
  o.service_args = {"--exact-search-max-vectors",
                    std::to_string(options_.exact_search_max_vectors),
                    "--hnsw-m",
                    std::to_string(options_.hnsw_m),
                    "--hnsw-ef-construction",
                    std::to_string(options_.hnsw_ef_construction),
                    "--hnsw-ef-search",
                    std::to_string(options_.hnsw_ef_search),
                    "--vector-index-save-every",
                    std::to_string(options_.vector_index_save_every)};
  // The service holds the vector indexes: the tier's vector cache is its
  // budget (the engine's own SQLite cache is bounded by the tier's cache).
  if (const std::optional<MemoryConfig> tier = MemoryTierInForce()) {
    o.service_args.push_back("--memory-budget-mb");
    o.service_args.push_back(std::to_string(tier->vector_cache_mb));
  }
  auto supervisor = std::make_shared<service::VectorServiceSupervisor>(std::move(o));
  NS_RETURN_IF_ERROR(supervisor->Start());
  NS_RETURN_IF_ERROR(WriteMeta({{kServiceKey, nlohmann::json{{"enabled", true}}.dump()}}, ""));
  std::atomic_store(&vector_service_, supervisor);
  // The service holds the indexes now: this process's copies leave memory
  // (a fallback search maps them again and catches up from the change log).
  NS_RETURN_IF_ERROR(vectors_->ReleaseMemory());
  for (const PartitionVectorState& p : vectors_->Partitions()) {
    if (p.loaded) NS_RETURN_IF_ERROR(vectors_->Unload(p.id).status());
  }
  return Status::OK();
}

void Database::Impl::StopVectorService() {
  std::lock_guard lock(service_mu_);
  std::shared_ptr<service::VectorServiceSupervisor> supervisor =
      std::atomic_exchange(&vector_service_, std::shared_ptr<service::VectorServiceSupervisor>());
  if (supervisor) supervisor->Stop();
}

VectorServiceInfo Database::Impl::VectorServiceState() {
  VectorServiceInfo info;
  Result<bool> enabled = VectorServiceEnabled();
  info.enabled = enabled.ok() && *enabled;
  info.remote_searches = search_vectors_->remote_searches();
  info.fallbacks = search_vectors_->fallbacks();
  std::shared_ptr<service::VectorServiceSupervisor> supervisor = std::atomic_load(&vector_service_);
  if (!supervisor) return info;
  const service::VectorServiceSupervisor::State st = supervisor->state();
  info.running = st.running;
  info.healthy = st.healthy;
  info.pid = st.pid;
  info.port = st.port;
  info.restarts = st.restarts;
  info.last_error = st.last_error;
  return info;
}

}  // namespace nodespace
