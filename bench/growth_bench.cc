// Growth: one database grown from empty to the whole dataset in steps, with
// the scaling manager on and its default thresholds, measuring after each
// step what a user would feel.
//
//   nodespace_growth_bench DATASET_DIR --db DIR [--steps N] [--queries N]
//                          [--out FILE.jsonl]
//
// Each step imports the next slice of nodes.jsonl (nodes with their
// vectors), then runs the manager's check (what the background manager does
// every 30 s; a step takes longer than that at this size, so the check sees
// what the manager would have seen), then:
//   catch-up    the first vector search after the import, which brings the
//               vector index(es) up to the step's writes (derived state is
//               applied lazily, at the next search)
//   queries     p95 of a fixed mixed set: text, hybrid (text + vector),
//               filtered vector (the dataset's lexname and created_at
//               filters) and a text query with a subtree filter
//   vectors     p95 of plain vector searches
//   memory      resident set of the engine and of its vector service, beside
//               the MemoryManager tier in force (cache + vector cache MB);
//               disk: the database directory
//   actions     the scaling events recorded during the step
// One JSON line per step goes to --out; a table to stdout.
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_data.h"
#include "io/jsonl_import.h"
#include "nodespace/database.h"

namespace {

using nlohmann::json;
using nodespace::Database;
using nodespace::Filter;
using nodespace::Query;
using nodespace::QueryBuilder;
using nodespace::bench::Latencies;
using nodespace::bench::Ms;
using nodespace::bench::ReadBinary;
using nodespace::bench::ReadJsonl;
using Clock = std::chrono::steady_clock;

void Die(const nodespace::Status& st, const char* what) {
  if (st.ok()) return;
  std::cerr << what << ": " << st.ToString() << "\n";
  std::exit(1);
}

int64_t DirBytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

// Resident memory of a process ("self" or a pid), MB; 0 when it is gone.
// The strategy's Phase 1 budget for a query; slower ones are described on
// stderr.
constexpr double kQueryBudgetMs = 50;

int64_t RssMb(const std::string& pid = "self") {
  std::ifstream statm("/proc/" + pid + "/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096 / (1024 * 1024);
}

// Of a process's resident memory, what is anonymous (heap: the kernel
// cannot drop it) and what is file pages (mapped index files: clean, the
// kernel may drop and re-read them), MB.
json ResidentSplitMb(const std::string& pid = "self") {
  std::ifstream status("/proc/" + pid + "/status");
  json out = {{"anon_mb", 0}, {"file_mb", 0}};
  std::string line;
  while (std::getline(status, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "RssAnon: %lld kB", &kb) == 1) out["anon_mb"] = kb / 1024;
    if (std::sscanf(line.c_str(), "RssFile: %lld kB", &kb) == 1) out["file_mb"] = kb / 1024;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: nodespace_growth_bench DATASET_DIR --db DIR [--steps N] [--queries N] "
                 "[--out FILE.jsonl]\n";
    return 2;
  }
  const std::string data = argv[1];
  std::string db_dir, out_file;
  size_t steps = 10, n = 100;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--db") db_dir = argv[i + 1];
    if (flag == "--steps") steps = std::stoul(argv[i + 1]);
    if (flag == "--queries") n = std::stoul(argv[i + 1]);
    if (flag == "--out") out_file = argv[i + 1];
  }
  if (db_dir.empty() || std::filesystem::exists(db_dir + "/nodespace.db")) {
    std::cerr << "--db must name a directory without a database (the run grows one from empty)\n";
    return 2;
  }
  const json meta = json::parse(std::ifstream(data + "/meta.json"));
  const int64_t total = meta.value("n_nodes", meta.value("nodes", int64_t{0}));
  if (total <= 0) {
    std::cerr << "meta.json names no node count\n";
    return 1;
  }

  // Default options: the manager on, the strategy's thresholds.
  nodespace::Options options;
  options.info_log = [](std::string_view line) { std::cerr << "  [engine] " << line << "\n"; };
  auto opened = Database::Open(db_dir, options);
  Die(opened.status(), "open");
  std::unique_ptr<Database> db = std::move(*opened);

  const auto text_q = ReadJsonl(data + "/queries_text.jsonl", n);
  const auto filt_q = ReadJsonl(data + "/queries_filtered.jsonl", n);
  const auto vec_f32 = ReadBinary<float>(data + "/queries_vec.f32");
  const auto filt_f32 = ReadBinary<float>(data + "/queries_filtered.f32");
  const size_t dim = 384;
  auto vec = [&](const std::vector<float>& all, size_t i) {
    return std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(i * dim),
                              all.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
  };
  // The fixed mixed set.
  std::vector<Query> mixed, vectors;
  for (size_t i = 0; i < n; ++i) {
    const std::string text = text_q[i % text_q.size()]["text"];
    mixed.push_back(QueryBuilder().Text(text).Limit(10).Explain().Build());
    mixed.push_back(QueryBuilder().Text(text).Vector(vec(vec_f32, i)).Limit(10).Explain().Build());
    const json& f = filt_q[i % filt_q.size()]["filter"];
    QueryBuilder b;
    b.Vector(vec(filt_f32, i % filt_q.size())).Limit(10).Explain();
    if (f["kind"] == "lexname") {
      std::vector<nodespace::QueryValue> values;
      for (const auto& l : f["lexname_in"]) values.emplace_back(l.get<std::string>());
      b.Where(Filter::In("properties.lexname", values));
    } else {
      b.Where(Filter::Compare("created_at", Filter::Op::kGe, f["gte_epoch"].get<int64_t>() * 1000));
      b.Where(Filter::Compare("created_at", Filter::Op::kLt, f["lt_epoch"].get<int64_t>() * 1000));
    }
    mixed.push_back(b.Build());
    mixed.push_back(
        QueryBuilder().Text(text).Where(Filter::Under("0")).Limit(10).Explain().Build());
    vectors.push_back(QueryBuilder().Vector(vec(vec_f32, i)).Limit(10).Build());
  }
  // Every run of the set should miss the result cache (the step's writes
  // invalidate it; within a step each query runs once).

  std::ifstream in(data + "/nodes.jsonl");
  std::ofstream out;
  if (!out_file.empty()) out.open(out_file);
  std::cout
      << "| nodes | import s | catch-up s | query p50 | query p95 | vector p50 | vector p95 | "
         "RSS MB (engine + service / tier) | disk MB | phase | partitions | actions "
         "|\n|---|---|---|---|---|---|---|---|"
         "---|---|---|---|\n";
  int64_t last_event_id = 0;
  for (size_t step = 1; step <= steps; ++step) {
    const int64_t upto = total * static_cast<int64_t>(step) / static_cast<int64_t>(steps);
    const int64_t before = db->Stats()->node_count;
    // The next slice: nodes.jsonl lines [before, upto).
    // The slice's text (hundreds of MB with vectors) is freed before the
    // step measures memory: it is this benchmark's, not the engine's.
    double import_s = 0;
    {
      std::stringstream slice;
      std::string line;
      for (int64_t i = before; i < upto && std::getline(in, line); ++i) slice << line << '\n';
      const auto start = Clock::now();
      nodespace::io::ImportOptions io;
      auto summary = nodespace::io::ImportJsonl(*db, slice, io, {});
      Die(summary.status(), "import");
      import_s = Ms(start, Clock::now()) / 1000;
    }

    auto events = db->RunScalingCheck();
    Die(events.status(), "scaling check");
    auto t = Clock::now();
    Die(db->RunQuery(vectors[0]).status(), "catch-up search");
    const double catchup_s = Ms(t, Clock::now()) / 1000;

    Latencies q, v;
    // The mixed set cycles through these four kinds.
    const char* const kKinds[] = {"text", "hybrid", "filtered_vector", "text_in_subtree"};
    std::map<std::string, Latencies> by_kind;
    for (size_t i = 0; i < mixed.size(); ++i) {
      t = Clock::now();
      auto result = db->RunQuery(mixed[i]);
      Die(result.status(), "query");
      const double ms = Ms(t, Clock::now());
      if (ms > kQueryBudgetMs) {
        // What a query over the budget did, for the write-up.
        std::cerr << "  over " << kQueryBudgetMs << " ms at " << upto << " nodes: " << kKinds[i % 4]
                  << " query " << i / 4 << " (" << ms << " ms)\n"
                  << result->explain.ToString() << "\n";
      }
      q.ms.push_back(ms);
      by_kind[kKinds[i % 4]].ms.push_back(ms);
    }
    for (const Query& query : vectors) {
      t = Clock::now();
      Die(db->RunQuery(query).status(), "vector query");
      v.ms.push_back(Ms(t, Clock::now()));
    }
    auto history = db->ScalingHistory(1000);
    Die(history.status(), "history");
    json actions = json::array();
    std::vector<std::string> names;
    int64_t newest = last_event_id;
    for (auto it = history->rbegin(); it != history->rend(); ++it) {
      if (it->id <= last_event_id) continue;
      newest = std::max(newest, it->id);
      if (it->result == "skipped") continue;
      actions.push_back({{"action", nodespace::OptimizationActionName(it->action)},
                         {"result", it->result},
                         {"message", it->message},
                         {"duration_ms", it->duration_ms}});
      names.push_back(std::string(nodespace::OptimizationActionName(it->action)) +
                      (it->result == "applied" ? "" : " (" + it->result + ")"));
    }
    last_event_id = newest;
    auto status = db->GetScalingStatus();
    Die(status.status(), "status");
    auto parts = db->GetPartitioningStatus();
    Die(parts.status(), "partitions");
    const json qj = q.Json(), vj = v.Json();
    // Memory against the MemoryManager tier in force: the engine and its
    // vector service together, beside the tier's cache and vector cache.
    const int64_t rss_mb = RssMb();
    const int64_t service_rss_mb = parts->vector_service.running && parts->vector_service.pid > 0
                                       ? RssMb(std::to_string(parts->vector_service.pid))
                                       : 0;
    const int64_t tier_mb = status->memory.cache_size_mb + status->memory.vector_cache_mb;
    json row = {{"nodes", upto},
                {"import_s", import_s},
                {"catchup_s", catchup_s},
                {"query", qj},
                {"vector", vj},
                {"query_by_kind",
                 [&] {
                   json k = json::object();
                   for (const auto& [name, lat] : by_kind) k[name] = lat.Json();
                   return k;
                 }()},
                {"rss_mb", rss_mb},
                {"service_rss_mb", service_rss_mb},
                // Of the engine's resident memory, what SQLite holds (page
                // caches, statements), process-wide.
                {"sqlite_mb", sqlite3_memory_used() / (1024 * 1024)},
                // The SQLite heap limit the manager set last (what the tier
                // leaves after the service and the engine's other memory).
                {"sqlite_limit_mb", status->sqlite_heap_limit_mb},
                {"engine_split", ResidentSplitMb()},
                {"service_split", service_rss_mb > 0
                                      ? ResidentSplitMb(std::to_string(parts->vector_service.pid))
                                      : json::object()},
                {"tier_mb", tier_mb},
                {"disk_mb", DirBytes(db_dir) / (1024 * 1024)},
                {"phase", static_cast<int>(status->phase)},
                {"partitions", parts->partitions.size()},
                {"vector_service", parts->vector_service.running},
                {"actions", actions}};
    if (out.is_open()) out << row.dump() << "\n" << std::flush;
    std::string joined;
    for (const std::string& s : names) joined += (joined.empty() ? "" : ", ") + s;
    std::printf(
        "| %lld | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %lld + %lld / %lld | %lld | %d | %zu | "
        "%s |\n",
        static_cast<long long>(upto), import_s, catchup_s, qj["p50_ms"].get<double>(),
        qj["p95_ms"].get<double>(), vj["p50_ms"].get<double>(), vj["p95_ms"].get<double>(),
        static_cast<long long>(rss_mb), static_cast<long long>(service_rss_mb),
        static_cast<long long>(tier_mb), static_cast<long long>(DirBytes(db_dir) >> 20),
        static_cast<int>(status->phase), parts->partitions.size(), joined.c_str());
    std::fflush(stdout);
  }
  return 0;
}
