// Query engine benchmark on the WordNet benchmark dataset.
//
//   nodespace_query_bench DATASET_DIR --db DIR [--queries N] [--out FILE.json] [--efc N]
//                         [--manager on|off] [--hierarchy on|off] [--text-index on|off]
//                         [--only KIND,KIND...] [--hybrid-strategy NAME]
//                         [--vector-weights W,W...] [--ndcg on|off]
//
// --hierarchy off answers subtree filters with SQL alone
// (Options::hierarchy_index); --text-index off ranks every text stage in
// FTS5 (Options::text_index; on: the timed queries start once the index,
// built in the background, answers); --only runs some kinds (text, vector,
// filtered, hybrid, facets, cache); --hybrid-strategy forces the plan of
// the timed hybrid queries (auto, filter_first, vector_first, hybrid);
// --vector-weights lists the vector weights whose fusions nDCG compares
// (default 1,0.5,0.3); --ndcg off times the hybrid queries only.
//
// DATASET_DIR is the output of make_dataset.py (nodes.jsonl with inline
// embeddings, queries_*.jsonl, queries_*.f32, gt_*.i32). When DIR holds no
// database yet, nodes.jsonl is imported into it first (the vector index is
// then built by the first vector query, which is timed separately).
//
// Measured, each query kind over N queries, one query thread:
//   text          BM25 top 10 (queries_text.jsonl), side by side with the same
//                 MATCH run on raw SQLite FTS5 against the same index
//   vector        top 10 by vector (queries_vec.f32), recall@10 vs exact
//   filtered      top 10 with the dataset's lexname / created_at filters
//                 (1/10/50 % selectivity), recall@10 vs exact filtered
//   hybrid        text + vector (RRF) + type filter + subtree (the subtree of
//                 the exact top hit's ancestor 3 levels below its root)
//   facets        a text query with facets on lexname and type and a monthly
//                 date histogram over all its matches
//   cache_hit     the text queries again, answered by the query cache
// and retrieval quality (nDCG@10) of text-only, vector-only and hybrid
// retrieval, with WordNet relations as relevance: for a held-out query
// synset, its hypernyms are grade 2 and their other children grade 1.
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "io/jsonl_import.h"
#include "nodespace/database.h"

namespace {

using nodespace::Database;
using nodespace::Filter;
using nodespace::Query;
using nodespace::QueryBuilder;
using Clock = std::chrono::steady_clock;

using nodespace::bench::Latencies;
using nodespace::bench::Ms;
using nodespace::bench::ReadBinary;
using nodespace::bench::ReadJsonl;

double RecallAt10(const std::vector<std::string>& got, const int32_t* truth) {
  std::set<std::string> want;
  for (int i = 0; i < 10; ++i) {
    if (truth[i] >= 0) want.insert(std::to_string(truth[i]));
  }
  if (want.empty()) return 1;
  int hit = 0;
  for (size_t i = 0; i < std::min<size_t>(10, got.size()); ++i) hit += want.count(got[i]);
  return static_cast<double>(hit) / static_cast<double>(want.size());
}

std::vector<std::string> HitIds(const nodespace::QueryResult& r) {
  std::vector<std::string> ids;
  for (const auto& h : r.hits) ids.push_back(h.node.id);
  return ids;
}

// WordNet hypernyms of a synset ("n07231840"), from Debian's wordnet-base.
std::vector<std::string> Hypernyms(const std::string& synset) {
  static const std::map<char, std::string> kFiles = {{'n', "data.noun"},
                                                     {'v', "data.verb"},
                                                     {'a', "data.adj"},
                                                     {'s', "data.adj"},
                                                     {'r', "data.adv"}};
  auto file = kFiles.find(synset[0]);
  if (file == kFiles.end()) return {};
  static std::map<std::string, std::unordered_map<std::string, std::string>> lines;
  auto& index = lines[file->second];
  if (index.empty()) {
    std::ifstream in("/usr/share/wordnet/" + file->second);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != ' ') index[line.substr(0, 8)] = line;
    }
  }
  auto it = index.find(synset.substr(1));
  if (it == index.end()) return {};
  std::istringstream words(it->second);
  std::vector<std::string> tokens;
  for (std::string w; words >> w;) tokens.push_back(w);
  std::vector<std::string> out;
  for (size_t i = 0; i + 2 < tokens.size(); ++i) {
    if (tokens[i] == "|") break;
    if (tokens[i] == "@" || tokens[i] == "@i" || (synset[0] == 's' && tokens[i] == "&")) {
      const char pos = tokens[i + 2][0];
      out.push_back(std::string(1, pos == 's' ? 'a' : pos) + tokens[i + 1]);
    }
  }
  return out;
}

double Ndcg10(const std::vector<std::string>& ranked, const std::map<std::string, int>& grades) {
  double dcg = 0;
  for (size_t i = 0; i < std::min<size_t>(10, ranked.size()); ++i) {
    auto g = grades.find(ranked[i]);
    if (g != grades.end()) dcg += (std::pow(2.0, g->second) - 1) / std::log2(i + 2.0);
  }
  std::vector<int> ideal;
  for (const auto& [id, grade] : grades) ideal.push_back(grade);
  std::sort(ideal.rbegin(), ideal.rend());
  double idcg = 0;
  for (size_t i = 0; i < std::min<size_t>(10, ideal.size()); ++i) {
    idcg += (std::pow(2.0, ideal[i]) - 1) / std::log2(i + 2.0);
  }
  return idcg > 0 ? dcg / idcg : 0;
}

long PeakRssMb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: nodespace_query_bench DATASET_DIR --db DIR [--queries N] [--out FILE]\n";
    return 2;
  }
  const std::string data = argv[1];
  std::string db_dir, out_file;
  size_t n = 300;
  uint32_t efc = 200;
  bool manager = true;
  bool hierarchy = true;
  bool text_index = true;
  std::string only;
  nodespace::QueryStrategy hybrid_strategy = nodespace::QueryStrategy::kAuto;
  std::vector<double> vector_weights = {1.0, 0.5, 0.3};
  bool ndcg = true;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--db") db_dir = argv[i + 1];
    if (flag == "--queries") n = std::stoul(argv[i + 1]);
    if (flag == "--out") out_file = argv[i + 1];
    if (flag == "--efc") efc = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    if (flag == "--manager") manager = std::string(argv[i + 1]) != "off";
    if (flag == "--hierarchy") hierarchy = std::string(argv[i + 1]) != "off";
    if (flag == "--text-index") text_index = std::string(argv[i + 1]) != "off";
    if (flag == "--only") only = "," + std::string(argv[i + 1]) + ",";
    if (flag == "--ndcg") ndcg = std::string(argv[i + 1]) != "off";
    if (flag == "--hybrid-strategy") {
      auto parsed = nodespace::ParseQueryStrategy(argv[i + 1]);
      if (!parsed) {
        std::cerr << "--hybrid-strategy: unknown strategy '" << argv[i + 1] << "'\n";
        return 2;
      }
      hybrid_strategy = *parsed;
    }
    if (flag == "--vector-weights") {
      vector_weights.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string w; std::getline(list, w, ',');) vector_weights.push_back(std::stod(w));
    }
  }
  if (db_dir.empty()) {
    std::cerr << "--db is required\n";
    return 2;
  }
  nlohmann::json report = {{"dataset", data}, {"queries_per_kind", n}};

  nodespace::Options options;
  options.hnsw_ef_construction = efc;  // only used when the index is built
  // Off: no scaling manager and one HNSW graph over the whole database (no
  // split, no vector service), the layout of the runs before the manager.
  if (!manager) options.scaling.enabled = false;
  options.hierarchy_index = hierarchy;
  report["hierarchy_index"] = hierarchy;
  options.text_index = text_index;
  report["text_index"] = text_index;
  auto want = [&](const std::string& kind) {
    return only.empty() || only.find("," + kind + ",") != std::string::npos;
  };
  auto opened = Database::Open(db_dir, options);
  if (!opened.ok()) {
    std::cerr << opened.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<Database> db = std::move(*opened);
  if (db->Stats()->node_count == 0) {
    const auto t0 = Clock::now();
    std::ifstream in(data + "/nodes.jsonl");
    nodespace::io::ImportOptions io;
    auto summary = nodespace::io::ImportJsonl(*db, in, io, {});
    if (!summary.ok()) {
      std::cerr << summary.status().ToString() << "\n";
      return 1;
    }
    (void)db->OptimizeTextIndex();
    report["import_s"] = Ms(t0, Clock::now()) / 1000;
  }
  const int64_t nodes = db->Stats()->node_count;
  report["nodes"] = nodes;
  std::cerr << "database: " << nodes << " nodes\n";

  const auto text_queries = ReadJsonl(data + "/queries_text.jsonl", n);
  const auto vec_queries = ReadJsonl(data + "/queries_vec.jsonl", n);
  const auto filtered_queries = ReadJsonl(data + "/queries_filtered.jsonl", n);
  const auto vec_f32 = ReadBinary<float>(data + "/queries_vec.f32");
  const auto filtered_f32 = ReadBinary<float>(data + "/queries_filtered.f32");
  const auto gt_vec = ReadBinary<int32_t>(data + "/gt_vec_ids.i32");
  const auto gt_filtered = ReadBinary<int32_t>(data + "/gt_filtered_ids.i32");
  const size_t dim = 384, gt_k = 100;
  auto query_vector = [&](const std::vector<float>& all, size_t i) {
    return std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(i * dim),
                              all.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
  };

  // The first vector query builds or opens the vector index.
  {
    const auto t0 = Clock::now();
    auto r = db->RunQuery(QueryBuilder().Vector(query_vector(vec_f32, 0)).Build());
    if (!r.ok()) {
      std::cerr << r.status().ToString() << "\n";
      return 1;
    }
    report["first_vector_query_ms"] = Ms(t0, Clock::now());
    std::cerr << "first vector query (index open or build): " << Ms(t0, Clock::now()) << " ms\n";
  }

  // The first ranked query with a subtree filter builds the hierarchy index
  // (a pass over the table): timed here, not in the hybrid latencies.
  if (hierarchy) {
    nodespace::ListOptions first_root;
    first_root.limit = 1;
    auto roots = db->Roots(first_root);
    if (roots.ok() && !roots->empty()) {
      const auto t0 = Clock::now();
      Query q = QueryBuilder()
                    .Vector(query_vector(vec_f32, 0))
                    .Where(Filter::Under(roots->front().id))
                    .Build();
      auto r = db->RunQuery(q);
      if (!r.ok()) {
        std::cerr << r.status().ToString() << "\n";
        return 1;
      }
      report["hierarchy_index_build_ms"] = Ms(t0, Clock::now());
      std::cerr << "first subtree query (hierarchy index build): " << Ms(t0, Clock::now())
                << " ms\n";
    }
  }

  // The first text query starts the text index's build on a thread of its
  // own (FTS5 ranks meanwhile): wait until it answers, timed here.
  if (text_index && !text_queries.empty()) {
    const auto t0 = Clock::now();
    Query q = QueryBuilder().Text(text_queries[0]["text"].get<std::string>()).Build();
    q.use_cache = false;
    q.explain = true;
    bool ready = false;
    while (!ready && Ms(t0, Clock::now()) < 600000) {
      auto r = db->RunQuery(q);
      if (!r.ok()) {
        std::cerr << r.status().ToString() << "\n";
        return 1;
      }
      for (const auto& stage : r->explain.stages) {
        ready = ready || stage.detail.rfind("text index", 0) == 0;
      }
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    report["text_index_ready_ms"] = Ms(t0, Clock::now());
    std::cerr << "text index ready after " << Ms(t0, Clock::now()) << " ms\n";
  }

  auto run = [&](const Query& q, Latencies& lat) -> nodespace::QueryResult {
    Query uncached = q;
    uncached.use_cache = false;
    const auto t0 = Clock::now();
    auto r = db->RunQuery(uncached);
    lat.ms.push_back(Ms(t0, Clock::now()));
    if (!r.ok()) {
      std::cerr << "query failed: " << r.status().ToString() << "\n";
      return {};
    }
    return std::move(*r);
  };

  // ---- text, beside raw FTS5 on the same index ----
  if (want("text")) {
    Latencies ours, fts5;
    sqlite3* raw = nullptr;
    sqlite3_open_v2((db_dir + "/nodespace.db").c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(raw,
                       "SELECT rowid FROM nodes_fts WHERE nodes_fts MATCH ?1 ORDER BY "
                       "bm25(nodes_fts, 3.0, 1.0) LIMIT 10",
                       -1, &stmt, nullptr);
    for (const auto& q : text_queries) {
      const std::string text = q["text"];
      run(QueryBuilder().Text(text).Limit(10).Build(), ours);
      // The anchor's query form: every term quoted, implicitly ANDed.
      std::string match;
      for (const auto& t : q["terms"]) match += "\"" + t.get<std::string>() + "\" ";
      const auto t0 = Clock::now();
      sqlite3_bind_text(stmt, 1, match.c_str(), -1, SQLITE_TRANSIENT);
      while (sqlite3_step(stmt) == SQLITE_ROW) {
      }
      sqlite3_reset(stmt);
      fts5.ms.push_back(Ms(t0, Clock::now()));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    report["text"] = ours.Json();
    report["text_raw_fts5"] = fts5.Json();
    report["text_p95_ratio_vs_fts5"] = ours.Pct(95) / std::max(1e-9, fts5.Pct(95));
  }

  // ---- vector ----
  if (want("vector")) {
    Latencies lat;
    double recall = 0;
    for (size_t i = 0; i < vec_queries.size(); ++i) {
      auto r = run(QueryBuilder().Vector(query_vector(vec_f32, i)).Limit(10).Build(), lat);
      recall += RecallAt10(HitIds(r), &gt_vec[i * gt_k]);
    }
    report["vector"] = lat.Json();
    report["vector"]["recall_at_10"] = recall / static_cast<double>(vec_queries.size());
  }

  // ---- filtered vector ----
  if (want("filtered")) {
    std::map<std::string, Latencies> by_selectivity;
    std::map<std::string, std::pair<double, int>> recall;
    std::map<std::string, std::map<std::string, int>> strategies;
    for (size_t i = 0; i < filtered_queries.size(); ++i) {
      const auto& fq = filtered_queries[i];
      const nlohmann::json& f = fq["filter"];
      QueryBuilder b;
      b.Vector(query_vector(filtered_f32, i)).Limit(10).Explain();
      if (f["kind"] == "lexname") {
        std::vector<nodespace::QueryValue> values;
        for (const auto& l : f["lexname_in"]) values.emplace_back(l.get<std::string>());
        b.Where(Filter::In("properties.lexname", values));
      } else {
        b.Where(
            Filter::Compare("created_at", Filter::Op::kGe, f["gte_epoch"].get<int64_t>() * 1000));
        b.Where(
            Filter::Compare("created_at", Filter::Op::kLt, f["lt_epoch"].get<int64_t>() * 1000));
      }
      const std::string key =
          std::to_string(static_cast<int>(fq["selectivity_target"].get<double>() * 100)) + "%";
      auto r = run(b.Build(), by_selectivity[key]);
      if (const char* slow = std::getenv("NODESPACE_BENCH_SLOW_MS");
          slow && by_selectivity[key].ms.back() > std::atof(slow)) {
        std::cerr << "slow filtered query " << i << " (" << by_selectivity[key].ms.back() << " ms, "
                  << f["kind"].get<std::string>() << " " << key << "):\n"
                  << r.explain.ToString() << "\n";
      }
      recall[key].first += RecallAt10(HitIds(r), &gt_filtered[i * gt_k]);
      recall[key].second += 1;
      strategies[key][r.explain.strategy] += 1;
    }
    for (const auto& [key, lat] : by_selectivity) {
      report["filtered"][key] = lat.Json();
      report["filtered"][key]["recall_at_10"] = recall[key].first / recall[key].second;
      report["filtered"][key]["strategies"] = strategies[key];
    }
  }

  // ---- hybrid + filter + subtree, and retrieval quality ----
  if (want("hybrid")) {
    Latencies lat;
    std::map<std::string, int> strategies;
    double ndcg_text = 0, ndcg_vec = 0;
    std::vector<std::pair<std::string, nodespace::FusionOptions>> fusions;
    for (double vw : vector_weights) {
      nodespace::FusionOptions rrf;
      rrf.vector_weight = vw;
      fusions.push_back({"rrf_k60_vector_weight_" + std::to_string(vw).substr(0, 4), rrf});
      nodespace::FusionOptions weighted = rrf;
      weighted.method = nodespace::FusionOptions::Method::kWeighted;
      fusions.push_back({"weighted_vector_weight_" + std::to_string(vw).substr(0, 4), weighted});
    }
    std::vector<double> ndcg_fused(fusions.size(), 0);
    int judged = 0;
    Latencies unused;
    for (size_t i = 0; i < vec_queries.size(); ++i) {
      const std::string text = vec_queries[i]["text"];
      const std::vector<float> v = query_vector(vec_f32, i);
      const std::string top = std::to_string(gt_vec[i * gt_k]);
      auto ancestors = db->Ancestors(top);
      if (!ancestors.ok()) continue;
      const std::string scope =
          ancestors->empty() ? top : (*ancestors)[std::min<size_t>(3, ancestors->size() - 1)].id;
      // What a person types beside the meaning: the query synset's lemmas
      // (the words before the gloss), any of them.
      const std::string lemmas = text.substr(0, text.find(':'));
      Query q = QueryBuilder()
                    .Text(lemmas)
                    .Vector(v)
                    .Where(Filter::Eq("type", "text"))
                    .Where(Filter::Under(scope))
                    .Limit(10)
                    .Strategy(hybrid_strategy)
                    .Explain()
                    .Build();
      q.text_any = true;
      auto r = run(q, lat);
      strategies[r.explain.strategy] += 1;
      // NODESPACE_BENCH_SLOW_MS=N prints the plan of every hybrid or filtered
      // query slower than N ms.
      if (const char* slow = std::getenv("NODESPACE_BENCH_SLOW_MS");
          slow && lat.ms.back() > std::atof(slow)) {
        std::cerr << "slow hybrid query " << i << " (" << lat.ms.back() << " ms, scope " << scope
                  << "):\n"
                  << r.explain.ToString() << "\n";
      }

      if (!ndcg) continue;
      // Quality, without scope or type filter.
      std::map<std::string, int> grades;
      for (const std::string& h : Hypernyms(vec_queries[i]["synset"])) {
        Query find = QueryBuilder().Where(Filter::Eq("properties.synset", h)).Limit(1).Build();
        auto found = db->RunQuery(find);
        if (!found.ok() || found->hits.empty()) continue;
        const std::string hid = found->hits[0].node.id;
        grades[hid] = 2;
        auto children = db->Children(hid);
        if (children.ok()) {
          for (const auto& c : *children) grades.emplace(c.id, 1);
        }
      }
      if (grades.empty()) continue;
      Query tq = QueryBuilder().Text(text).Limit(10).Build();
      tq.text_any = true;
      Query vq = QueryBuilder().Vector(v).Limit(10).Build();
      ndcg_text += Ndcg10(HitIds(run(tq, unused)), grades);
      ndcg_vec += Ndcg10(HitIds(run(vq, unused)), grades);
      for (size_t f = 0; f < fusions.size(); ++f) {
        Query hq = QueryBuilder().Text(text).Vector(v).Fusion(fusions[f].second).Limit(10).Build();
        hq.text_any = true;
        ndcg_fused[f] += Ndcg10(HitIds(run(hq, unused)), grades);
      }
      ++judged;
    }
    report["hybrid_filter_subtree"] = lat.Json();
    report["hybrid_filter_subtree"]["strategies"] = strategies;
    if (ndcg) {
      report["ndcg_at_10"] = {{"queries", judged},
                              {"text", ndcg_text / std::max(1, judged)},
                              {"vector", ndcg_vec / std::max(1, judged)}};
      for (size_t f = 0; f < fusions.size(); ++f) {
        report["ndcg_at_10"]["hybrid_" + fusions[f].first] = ndcg_fused[f] / std::max(1, judged);
      }
    }
  }

  // ---- facets ----
  if (want("facets")) {
    Latencies lat;
    nodespace::AggregationRequest months{
        "by_month", nodespace::AggregationRequest::Kind::kDateHistogram, "created_at", "month"};
    for (const auto& q : text_queries) {
      run(QueryBuilder()
              .Text(q["text"].get<std::string>())
              .Facet("properties.lexname")
              .Facet("type")
              .Aggregate(months)
              .Limit(10)
              .Build(),
          lat);
    }
    report["facets"] = lat.Json();
  }

  // ---- cache hits ----
  if (want("cache")) {
    Latencies miss, hit;
    for (const auto& q : text_queries) {
      const Query query = QueryBuilder().Text(q["text"].get<std::string>()).Limit(10).Build();
      auto t0 = Clock::now();
      (void)db->RunQuery(query);
      miss.ms.push_back(Ms(t0, Clock::now()));
      t0 = Clock::now();
      (void)db->RunQuery(query);
      hit.ms.push_back(Ms(t0, Clock::now()));
    }
    report["cache_hit"] = hit.Json();
    report["cache_hit"]["p95_us"] = hit.Pct(95) * 1000;
    const auto stats = db->QueryCacheStatistics();
    report["cache_stats"] = {{"hits", stats.hits},
                             {"misses", stats.misses},
                             {"entries", stats.entries},
                             {"bytes", stats.bytes},
                             {"hit_rate", stats.hit_rate()}};
  }
  report["peak_rss_mb"] = PeakRssMb();
  report["disk_bytes"] = nodespace::bench::DiskBytes(db_dir);
  report["load_avg_1m"] = nodespace::bench::LoadAvg1();
  std::cout << report.dump(2) << "\n";
  if (!out_file.empty()) std::ofstream(out_file) << report.dump(2) << "\n";
  return 0;
}
