// What each scaling action buys, on a database built from the WordNet
// benchmark dataset (see query_bench.cc, which builds one with vectors).
//
//   nodespace_scaling_bench DATASET_DIR --db DIR [--queries N] [--out FILE.json]
//                           [--memory-budget-mb MB] [--rebuild-vectors]
//                           [--optimize-embeddings] [--semantic]
//
// The run changes the database the way the manager would (indexes built,
// the graph quantized when over the budget): run it on a copy.
//
// For each action: the workload it is meant to help, measured before the
// action, the action applied through Database::ApplyScalingAction (as the
// manager applies it), and the same workload after.
//   metrics sample          cost of CollectScalingMetrics, first (with the
//                           index-size / vector-count refresh) and later
//   EnableQueryCache        text queries, second pass, cache off vs on
//   RebuildHotIndexes       property filters (synset point lookups, lexname
//                           listings): full scans vs the expression indexes
//   OptimizeIndexing        text queries before/after FTS5 optimize; vector
//                           search by exact scan (what the flat store does)
//                           vs the HNSW graph it switches to, with recall@10
//   RebuildVectorIndexes    the tuned ef_search for this size vs the default
//                           (search side); with --rebuild-vectors the action
//                           itself: the graph rebuilt with the parameters
//                           tuned for the size when they differ from the
//                           file's, its duration, vector latency, recall@10
//                           and RSS before and after
//   OptimizeEmbeddings      with --optimize-embeddings: the action (int8 codes
//                           for vectors from outside; a refit with half the
//                           dimensions and a re-embedding for the built-in
//                           embedder), vector latency, recall@10 and RSS
//                           before and after
//   OptimizeMemoryUsage     RSS before and after (file-backed and anonymous),
//                           vector search latency and recall@10 before and
//                           after; with --memory-budget-mb below the process's
//                           RSS it goes on to quantize the vector graphs
//   BackgroundCompaction    its duration and what it reclaimed
// The hot indexes this run creates are dropped at the end, so runs compare.
//
// --semantic: the database embeds with its own embedder (`nodespace embed`),
// so the vector queries are the text queries, embedded by it, and recall@10
// is measured against an exact search of the same vectors (recomputed after
// an action that re-embeds).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "nodespace/database.h"

namespace {

using nlohmann::json;
using nodespace::Database;
using nodespace::Filter;
using nodespace::OptimizationAction;
using nodespace::Query;
using Clock = std::chrono::steady_clock;

using nodespace::bench::Latencies;
using nodespace::bench::Ms;
using nodespace::bench::ReadBinary;
using nodespace::bench::ReadJsonl;

void Die(const nodespace::Status& st, const char* what) {
  if (st.ok()) return;
  std::cerr << what << ": " << st.ToString() << "\n";
  std::exit(1);
}

Latencies RunQueries(Database& db, const std::vector<Query>& queries) {
  Latencies l;
  for (const Query& q : queries) {
    const auto t = Clock::now();
    auto r = db.RunQuery(q);
    l.ms.push_back(Ms(t, Clock::now()));
    Die(r.status(), "query");
  }
  return l;
}

json Event(Database& db, OptimizationAction action) {
  auto e = db.ApplyScalingAction(action);
  Die(e.status(), "apply");
  std::cerr << "  " << e->message << " (" << static_cast<int>(e->duration_ms) << " ms)\n";
  return {{"result", e->result},
          {"message", e->message},
          {"duration_ms", e->duration_ms},
          {"detail", json::parse(e->detail_json)}};
}

void DropHotIndexes(const std::string& db_file) {
  sqlite3* raw = nullptr;
  sqlite3_open(db_file.c_str(), &raw);
  sqlite3_busy_timeout(raw, 10000);
  std::vector<std::string> names;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(raw, "SELECT name FROM sqlite_master WHERE name LIKE 'nodes_hot_%'", -1, &s,
                     nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  for (const std::string& n : names) {
    sqlite3_exec(raw, ("DROP INDEX " + n).c_str(), nullptr, nullptr, nullptr);
    sqlite3_exec(raw, ("DELETE FROM meta WHERE key = 'hot_index:" + n + "'").c_str(), nullptr,
                 nullptr, nullptr);
  }
  sqlite3_close(raw);
}

// The share of `want` (the true top 10) among the first 10 hits.
double RecallAt10(const nodespace::VectorSearchResult& r, const std::set<std::string>& want) {
  if (want.empty()) return 1.0;
  int hit = 0;
  for (size_t i = 0; i < std::min<size_t>(10, r.hits.size()); ++i) {
    hit += static_cast<int>(want.count(r.hits[i].node.id));
  }
  return hit / static_cast<double>(want.size());
}

double RecallAt10(const nodespace::VectorSearchResult& r, const int32_t* truth) {
  std::set<std::string> want;
  for (int i = 0; i < 10; ++i) want.insert(std::to_string(truth[i]));
  return RecallAt10(r, want);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, db_path, out_path;
  size_t n = 200;
  int64_t memory_budget_mb = -1;  // -1: the default threshold
  bool rebuild_vectors = false, optimize_embeddings = false, semantic = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--db" && i + 1 < argc) {
      db_path = argv[++i];
    } else if (a == "--queries" && i + 1 < argc) {
      n = std::stoul(argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--rebuild-vectors") {
      rebuild_vectors = true;
    } else if (a == "--optimize-embeddings") {
      optimize_embeddings = true;
    } else if (a == "--semantic") {
      semantic = true;
    } else if (a == "--memory-budget-mb" && i + 1 < argc) {
      memory_budget_mb = std::stoll(argv[++i]);
    } else if (data.empty()) {
      data = a;
    }
  }
  if (data.empty() || db_path.empty()) {
    std::cerr
        << "usage: nodespace_scaling_bench DATASET_DIR --db DIR [--queries N] [--out F] "
           "[--memory-budget-mb MB] [--rebuild-vectors] [--optimize-embeddings] [--semantic]\n";
    return 2;
  }
  DropHotIndexes(db_path + "/nodespace.db");
  nodespace::Options options;
  options.scaling.interval_ms = 0;  // this run applies the actions itself
  options.info_log = [](std::string_view) {};
  if (memory_budget_mb >= 0) options.scaling.thresholds.memory_mb = memory_budget_mb;
  auto opened = Database::Open(db_path, options);
  Die(opened.status(), "open");
  Database& db = **opened;
  json out = {{"dataset", data}, {"load_avg_start", nodespace::bench::LoadAvg1()}};

  // ---- metrics sample cost ----
  {
    auto t = Clock::now();
    auto first = db.CollectScalingMetrics();
    const double first_ms = Ms(t, Clock::now());
    Die(first.status(), "metrics");
    Latencies later;
    for (int i = 0; i < 20; ++i) {
      auto m = db.CollectScalingMetrics();
      Die(m.status(), "metrics");
      later.ms.push_back(m->sample_cost_us / 1000.0);
    }
    out["metrics_sample"] = {{"first_ms", first_ms},
                             {"later", later.Json()},
                             {"node_count", first->node_count},
                             {"vector_count", first->vector_count},
                             {"index_size_bytes", first->index_size_bytes},
                             {"storage_size_bytes", first->storage_size_bytes}};
    std::cerr << "metrics sample: first " << first_ms << " ms, later p50 " << later.Pct(50)
              << " ms\n";
  }

  // ---- EnableQueryCache ----
  std::vector<Query> text;
  for (const json& q : ReadJsonl(data + "/queries_text.jsonl", n)) {
    Query query;
    query.text = q["text"].get<std::string>();
    query.limit = 10;
    text.push_back(query);
  }
  {
    db.ConfigureQueryCache(false, 10 << 20, 900000);
    RunQueries(db, text);
    const Latencies off = RunQueries(db, text);
    json action = Event(db, OptimizationAction::kEnableQueryCache);
    RunQueries(db, text);
    const Latencies on = RunQueries(db, text);
    out["enable_query_cache"] = {{"before", off.Json()}, {"after", on.Json()}, {"action", action}};
    std::cerr << "query cache: p95 " << off.Pct(95) << " -> " << on.Pct(95) << " ms\n";
  }

  // ---- RebuildHotIndexes ----
  {
    // One node line in 997 (parsed one at a time: the lines carry vectors,
    // and holding them would swell this process's RSS, which is measured).
    std::vector<Query> lookups, listings;
    std::set<std::string> lexnames;
    std::ifstream nodes_in(data + "/nodes.jsonl");
    std::string line;
    for (size_t i = 0; lookups.size() < n && std::getline(nodes_in, line); ++i) {
      if (i % 997 != 0) continue;
      const json p = json::parse(line)["properties"];
      if (p.contains("synset")) {
        Query q;
        q.filter = Filter::Eq("properties.synset", p["synset"].get<std::string>());
        q.limit = 10;
        q.use_cache = false;
        lookups.push_back(q);
      }
      if (p.contains("lexname")) lexnames.insert(p["lexname"].get<std::string>());
    }
    for (const std::string& l : lexnames) {
      Query q;
      q.filter = Filter::Eq("properties.lexname", l);
      q.limit = 10;
      q.use_cache = false;
      listings.push_back(q);
    }
    const Latencies lookup_before = RunQueries(db, lookups);
    const Latencies listing_before = RunQueries(db, listings);
    json action = Event(db, OptimizationAction::kRebuildHotIndexes);
    const Latencies lookup_after = RunQueries(db, lookups);
    const Latencies listing_after = RunQueries(db, listings);
    out["rebuild_hot_indexes"] = {
        {"synset_lookup", {{"before", lookup_before.Json()}, {"after", lookup_after.Json()}}},
        {"lexname_listing", {{"before", listing_before.Json()}, {"after", listing_after.Json()}}},
        {"action", action}};
    std::cerr << "hot indexes: lookup p50 " << lookup_before.Pct(50) << " -> "
              << lookup_after.Pct(50) << " ms, listing p50 " << listing_before.Pct(50) << " -> "
              << listing_after.Pct(50) << " ms\n";
  }

  // ---- OptimizeIndexing ----
  const auto queries_f32 = ReadBinary<float>(data + "/queries_vec.f32");
  const auto gt = ReadBinary<int32_t>(data + "/gt_vec_ids.i32");
  const size_t dim = 384, gt_k = 100;
  // --semantic: the text queries the embedder knows a word of (the others
  // are refused, clearly, and left out).
  std::vector<std::string> semantic_queries;
  if (semantic) {
    for (const Query& q : text) {
      nodespace::VectorSearchOptions vs;
      vs.text = q.text;
      vs.k = 1;
      auto r = db.SearchVector(vs);
      if (r.ok()) {
        semantic_queries.push_back(q.text);
      } else if (r.status().code() != nodespace::StatusCode::kInvalidArgument) {
        Die(r.status(), "vector");
      }
    }
    out["semantic_queries"] = {{"used", semantic_queries.size()}, {"of", text.size()}};
  }
  const size_t vec_n = semantic ? semantic_queries.size() : std::min(n, queries_f32.size() / dim);
  auto search = [&](size_t i, bool exact, size_t ef) {
    nodespace::VectorSearchOptions vs;
    if (semantic) {
      vs.text = semantic_queries[i];
    } else {
      vs.vector.assign(queries_f32.begin() + static_cast<std::ptrdiff_t>(i * dim),
                       queries_f32.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
    }
    vs.k = 10;
    vs.exact = exact;
    vs.ef = ef;
    return db.SearchVector(vs);
  };
  // --semantic: each query's exact top 10 over the vectors as they are now.
  std::vector<std::set<std::string>> semantic_truth;
  auto refresh_semantic_truth = [&] {
    semantic_truth.clear();
    for (size_t i = 0; i < vec_n; ++i) {
      auto r = search(i, true, 0);
      Die(r.status(), "exact vector");
      std::set<std::string> ids;
      for (size_t h = 0; h < std::min<size_t>(10, r->hits.size()); ++h) {
        ids.insert(r->hits[h].node.id);
      }
      semantic_truth.push_back(std::move(ids));
    }
  };
  if (semantic) refresh_semantic_truth();
  auto vector_pass = [&](bool exact, size_t ef, double* recall) {
    Latencies l;
    double sum = 0;
    for (size_t i = 0; i < vec_n; ++i) {
      const auto t = Clock::now();
      auto r = search(i, exact, ef);
      l.ms.push_back(Ms(t, Clock::now()));
      Die(r.status(), "vector");
      sum += semantic ? RecallAt10(*r, semantic_truth[i]) : RecallAt10(*r, &gt[i * gt_k]);
    }
    *recall = sum / static_cast<double>(vec_n);
    return l;
  };
  // The vector workload (the engine's beam) and the process's memory before
  // and after one action.
  auto vector_action = [&](OptimizationAction a, const char* name) {
    using nodespace::bench::ProcStatusKb;
    auto rss = [] {
      return json{{"rss_mb", ProcStatusKb("VmRSS") / 1024},
                  {"file_mb", ProcStatusKb("RssFile") / 1024},
                  {"anon_mb", ProcStatusKb("RssAnon") / 1024}};
    };
    double recall_before = 0, recall_after = 0;
    const Latencies before = vector_pass(false, 0, &recall_before);
    const json rss_before = rss();
    json action = Event(db, a);
    const json rss_after_action = rss();
    // A refit may re-embed every node: recall is against the vectors now.
    if (semantic && a == OptimizationAction::kOptimizeEmbeddings) refresh_semantic_truth();
    const Latencies after = vector_pass(false, 0, &recall_after);
    const json rss_after_searches = rss();
    std::cerr << name << ": RSS " << rss_before["rss_mb"] << " -> " << rss_after_action["rss_mb"]
              << " MB (after the searches " << rss_after_searches["rss_mb"] << "), vector p50 "
              << before.Pct(50) << " -> " << after.Pct(50) << " ms, recall " << recall_before
              << " -> " << recall_after << "\n";
    return json{{"vector_before", before.Json()},
                {"vector_recall_before", recall_before},
                {"rss_before", rss_before},
                {"action", action},
                {"rss_after_action", rss_after_action},
                {"vector_after", after.Json()},
                {"vector_recall_after", recall_after},
                {"rss_after_searches", rss_after_searches}};
  };
  {
    db.ConfigureQueryCache(false, 10 << 20, 900000);
    const Latencies text_before = RunQueries(db, text);
    double exact_recall = 0, graph_recall = 0;
    // Warm the index mapping first: the first search pays for the open.
    double ignored = 0;
    vector_pass(false, 0, &ignored);
    const Latencies exact = vector_pass(true, 0, &exact_recall);
    json action = Event(db, OptimizationAction::kOptimizeIndexing);
    const Latencies graph = vector_pass(false, 0, &graph_recall);
    const Latencies text_after = RunQueries(db, text);
    out["optimize_indexing"] = {
        {"text", {{"before", text_before.Json()}, {"after", text_after.Json()}}},
        {"vector_exact_scan", exact.Json()},
        {"vector_exact_recall", exact_recall},
        {"vector_graph", graph.Json()},
        {"vector_graph_recall", graph_recall},
        {"action", action}};
    std::cerr << "optimize indexing: vector p50 exact " << exact.Pct(50) << " -> graph "
              << graph.Pct(50) << " ms (recall " << graph_recall << "), text p95 "
              << text_before.Pct(95) << " -> " << text_after.Pct(95) << " ms\n";

    // ---- RebuildVectorIndexes (search side) ----
    auto status = db.GetScalingStatus();
    Die(status.status(), "status");
    const int64_t vectors = status->metrics.vector_count;
    const size_t tuned_ef = vectors < 50000 ? 64 : vectors < 500000 ? 128 : 192;
    double default_recall = 0, tuned_recall = 0;
    const Latencies def = vector_pass(false, 128, &default_recall);
    const Latencies tuned = vector_pass(false, tuned_ef, &tuned_recall);
    out["rebuild_vector_indexes_search"] = {
        {"default_ef", 128},    {"default", def.Json()}, {"default_recall", default_recall},
        {"tuned_ef", tuned_ef}, {"tuned", tuned.Json()}, {"tuned_recall", tuned_recall}};
    std::cerr << "vector ef 128 -> " << tuned_ef << ": recall " << default_recall << " -> "
              << tuned_recall << ", p50 " << def.Pct(50) << " -> " << tuned.Pct(50) << " ms\n";

    if (rebuild_vectors) {
      out["rebuild_vector_indexes"] =
          vector_action(OptimizationAction::kRebuildVectorIndexes, "rebuild vector indexes");
    }
  }

  // ---- OptimizeEmbeddings ----
  if (optimize_embeddings) {
    out["optimize_embeddings"] =
        vector_action(OptimizationAction::kOptimizeEmbeddings, "optimize embeddings");
  }

  // ---- OptimizeMemoryUsage, BackgroundCompaction ----
  out["optimize_memory_usage"] =
      vector_action(OptimizationAction::kOptimizeMemoryUsage, "optimize memory");
  out["background_compaction"] = Event(db, OptimizationAction::kBackgroundCompaction);
  out["load_avg_end"] = nodespace::bench::LoadAvg1();
  opened->reset();
  DropHotIndexes(db_path + "/nodespace.db");

  const std::string text_out = out.dump(2);
  if (out_path.empty()) {
    std::cout << text_out << "\n";
  } else {
    std::ofstream(out_path) << text_out << "\n";
  }
  return 0;
}
