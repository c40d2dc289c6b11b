// nodespace_text_bench: full-text search, NodeSpace vs. raw SQLite FTS5, in one run.
//
// The anchor is /work/shared/bench/anchors/sqlite_fts5_bench.c: the "content"
// of every node of DATASET/nodes.jsonl in
//     CREATE VIRTUAL TABLE docs USING fts5(content, tokenize='unicode61')
// (rowid = the node's numeric id, one transaction, then 'optimize'), queried with
//     SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 10
// for every query of DATASET/queries_text.jsonl, each term quoted:
//     AND  "a" "b"        OR  "a" OR "b"
// NodeSpace answers the same queries through Database::SearchText (top 10):
//     and      "a" "b"       match_subtrees = any_term_fallback = false (strict)
//     or       "a" OR "b"    strict as well
//     default  the query's "text" with the default options (subtree and
//              any-term fallbacks); it has no FTS5 counterpart
// NodeSpace's numbers include everything SearchText returns (the node rows and
// a highlighted snippet per hit); the anchor returns rowid and score only.
// The NodeSpace database is built beforehand with the CLI, e.g.
//     build/release/nodespace --db /tmp/nsbench/db100k import
//         /tmp/nsdata/100k/nodes.jsonl --no-embeddings
//
// Each (system, mode) runs its whole query set once untimed (warm-up), then
// --repeat times timed, one query at a time on this thread. Percentiles are
// taken over all timed samples the way the anchor takes them (sorted[n*p]).
// Reported per row: p50/p95/p99/mean ms, QPS, queries with hits, mean results,
// and for NodeSpace the ratio ours/FTS5 of p50 and p95; per query bucket
// (rare/medium/frequent/lemma) p50/p95; the overlap of the top-10 ids of
// NodeSpace and FTS5 (compared as id strings; they differ by design: NodeSpace
// stems with porter, folds diacritics, weights titles 3x and skips archived
// nodes).
//
// Diagnosis rows (--no-diag skips them) run SQL straight on NodeSpace's
// nodespace.db through a read-only sqlite3 connection (64 MiB cache, as
// Options::page_cache_mib), with the FTS expression SearchText reported:
//   sql_rank      the main query of src/index/text/text_search.cc (Ranked(), as
//                 of commit f1095c1): rank MATCH 'bm25(w, 1.0)' ORDER BY rank
//                 LIMIT 18 (limit + 8), i.e. FTS5's own sorted-rank path
//   sql_fts_only  bm25(nodes_fts, w, 1.0) in the select list, ORDER BY it
//                 LIMIT 10: SQLite's sorter instead of FTS5's rank path
//   sql_join      the main query before f1095c1: nodes_fts JOIN nodes with the
//                 lifecycle filter, ORDER BY bm25 LIMIT 10 (a nodes lookup
//                 per matching row)
//   snippets      the snippet() statement SearchText runs for each of the top 10
//   matches       (untimed) how many rows match: the work bm25 sorting must do
// If text_search.cc changes its SQL, update these rows to match.
// Then cold open: a fresh Database::Open + one strict AND query (page cache
// warm), and the same for the anchor file (sqlite3_open + prepare + query).
//
//   nodespace_text_bench --db /tmp/nsbench/db100k --data /tmp/nsdata/100k
//       --scratch /tmp/nsbench/text100k --out /tmp/nsbench/text100k.json
// Options: --repeat N (1), --reuse-anchor (keep SCRATCH/fts5_anchor.sqlite if it
// holds a finished build), --no-diag, --cold-runs N (3), --queries N (all),
// --text-index on|off (Options::text_index; on: the timed passes start once
// the index, built in the background after the first search, answers),
// --manager on|off (off: the scaling manager does not run in this process).
#include <simdjson.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "nodespace/database.h"

namespace {

namespace fs = std::filesystem;
using nodespace::bench::DiskBytes;
using nodespace::bench::LoadAvg1;
namespace od = simdjson::ondemand;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "nodespace_text_bench: " << msg << std::endl;
  std::exit(1);
}

void Check(sqlite3* db, int rc, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Die(what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    Die(sql + ": " + msg);
  }
}

sqlite3_stmt* Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  Check(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), "prepare " + sql);
  return st;
}

int64_t VmHwmKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// ---- queries -------------------------------------------------------------------

struct Query {
  int64_t qid = 0;
  std::string text, kind, bucket;
  std::vector<std::string> terms;
  std::string and_q, or_q;  // FTS5 syntax, each term quoted
};

std::string Quote(const std::string& term) {
  std::string out = "\"";
  for (char c : term) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<Query> LoadQueries(const fs::path& file, size_t max_queries) {
  std::ifstream in(file);
  if (!in) Die("cannot read " + file.string());
  std::vector<Query> out;
  std::string line;
  while (std::getline(in, line) && out.size() < max_queries) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j = Json::parse(line);
    Query q;
    q.qid = j.value("qid", static_cast<int64_t>(out.size()));
    q.text = j.value("text", "");
    q.kind = j.value("kind", "");
    q.bucket = j.value("bucket", "");
    for (const auto& t : j.at("terms")) q.terms.push_back(t.get<std::string>());
    if (q.terms.empty()) continue;
    for (const std::string& t : q.terms) {
      if (!q.and_q.empty()) {
        q.and_q += " ";
        q.or_q += " OR ";
      }
      q.and_q += Quote(t);
      q.or_q += Quote(t);
    }
    if (q.text.empty()) q.text = q.and_q;
    out.push_back(std::move(q));
  }
  if (out.empty()) Die("no queries in " + file.string());
  return out;
}

// ---- measurement series ------------------------------------------------------------

// One (system, mode): a latency sample per query per timed pass, plus what the
// last pass returned.
struct Series {
  std::string mode, system;
  std::vector<double> lat_ms;                 // all timed samples (wall clock)
  std::vector<double> cpu_ms;                 // the same, this thread's CPU time
  std::vector<double> min_ms, min_cpu_ms;     // per query, the fastest timed pass
  std::vector<std::vector<std::string>> ids;  // per query, last pass
  std::vector<int64_t> counts;                // per query, last pass
};

struct Stats {
  double p50 = 0, p95 = 0, p99 = 0, mean = 0, qps = 0;
  size_t n = 0;
};

Stats StatsOf(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(v.size() * p))]; };
  s.p50 = at(0.50);
  s.p95 = at(0.95);
  s.p99 = at(0.99);
  s.mean = sum / v.size();
  s.qps = sum > 0 ? v.size() / (sum / 1e3) : 0;
  return s;
}

Json StatsJson(const Stats& s) {
  return Json{{"p50_ms", s.p50},   {"p95_ms", s.p95},      {"p99_ms", s.p99},
              {"mean_ms", s.mean}, {"qps_1thread", s.qps}, {"samples", s.n}};
}

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// One system's way of answering query i: returns the ids it found.
struct Runner {
  std::string system;
  std::function<std::vector<std::string>(size_t)> one;
};

// Measures several systems on one mode: each runs every query once untimed
// (warm-up), then `repeat` timed passes, the systems taking turns pass by pass
// so that a change in machine load hits them alike.
std::vector<Series> MeasureGroup(const std::string& mode, size_t nq, int repeat,
                                 const std::vector<Runner>& runners) {
  std::vector<Series> out(runners.size());
  for (size_t r = 0; r < runners.size(); ++r) {
    out[r].mode = mode;
    out[r].system = runners[r].system;
    out[r].ids.resize(nq);
    out[r].counts.resize(nq);
    out[r].min_ms.assign(nq, 1e300);
    out[r].min_cpu_ms.assign(nq, 1e300);
    for (size_t i = 0; i < nq; ++i) (void)runners[r].one(i);
  }
  for (int pass = 0; pass < repeat; ++pass) {
    for (size_t r = 0; r < runners.size(); ++r) {
      Series& s = out[r];
      for (size_t i = 0; i < nq; ++i) {
        const double c0 = ThreadCpuMs();
        auto t0 = Clock::now();
        std::vector<std::string> ids = runners[r].one(i);
        auto t1 = Clock::now();
        const double cpu = ThreadCpuMs() - c0;
        const double wall = Ms(t0, t1);
        s.lat_ms.push_back(wall);
        s.cpu_ms.push_back(cpu);
        s.min_ms[i] = std::min(s.min_ms[i], wall);
        s.min_cpu_ms[i] = std::min(s.min_cpu_ms[i], cpu);
        s.counts[i] = static_cast<int64_t>(ids.size());
        s.ids[i] = std::move(ids);
      }
    }
  }
  for (const Series& s : out) {
    std::cerr << "  " << mode << " / " << s.system << ": p50 " << StatsOf(s.lat_ms).p50 << " ms"
              << std::endl;
  }
  return out;
}

// Runs a prepared statement with ?1 = fts; returns column 0 of each row as text.
std::vector<std::string> RunStmt(sqlite3* db, sqlite3_stmt* st, const std::string& fts) {
  std::vector<std::string> ids;
  sqlite3_bind_text(st, 1, fts.c_str(), static_cast<int>(fts.size()), SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    ids.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
  }
  if (rc != SQLITE_DONE) Die("query " + fts + ": " + sqlite3_errmsg(db));
  sqlite3_reset(st);
  return ids;
}

// ---- the FTS5 anchor -----------------------------------------------------------

Json BuildAnchor(const fs::path& nodes_file, const fs::path& db_file) {
  fs::remove(db_file);
  fs::remove(db_file.string() + "-journal");
  sqlite3* db = nullptr;
  Check(db, sqlite3_open(db_file.c_str(), &db), "open " + db_file.string());
  Exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;");
  Exec(db, "CREATE VIRTUAL TABLE docs USING fts5(content, tokenize='unicode61')");
  sqlite3_stmt* ins = Prepare(db, "INSERT INTO docs(rowid, content) VALUES(?, ?)");

  std::ifstream in(nodes_file);
  if (!in) Die("cannot read " + nodes_file.string());
  od::parser parser;
  std::string line;
  int64_t rows = 0, skipped = 0;
  double parse_ms = 0;
  auto t0 = Clock::now();
  Exec(db, "BEGIN");
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto p0 = Clock::now();
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    od::document doc;
    if (parser.iterate(line.data(), line.size(), line.capacity()).get(doc) != simdjson::SUCCESS) {
      Die("bad JSON at row " + std::to_string(rows + skipped + 1));
    }
    int64_t id = 0;
    od::value idv;
    if (doc["id"].get(idv) != simdjson::SUCCESS) Die("row without id");
    od::json_type type;
    if (idv.type().get(type) != simdjson::SUCCESS) Die("bad id");
    if (type == od::json_type::string) {
      std::string_view sv;
      if (idv.get_string().get(sv) != simdjson::SUCCESS) Die("bad id");
      char* end = nullptr;
      std::string ids(sv);
      id = std::strtoll(ids.c_str(), &end, 10);
      if (ids.empty() || *end != '\0') Die("id is not a decimal number: " + ids);
    } else if (idv.get_int64().get(id) != simdjson::SUCCESS) {
      Die("bad id");
    }
    std::string_view content;
    if (doc["content"].get_string().get(content) != simdjson::SUCCESS) {
      ++skipped;  // no (string) content: the anchor skips such lines too
      continue;
    }
    parse_ms += Ms(p0, Clock::now());
    sqlite3_bind_int64(ins, 1, id);
    sqlite3_bind_text(ins, 2, content.data(), static_cast<int>(content.size()), SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) Die(std::string("insert: ") + sqlite3_errmsg(db));
    sqlite3_reset(ins);
    if (++rows % 200000 == 0) std::cerr << "  anchor: inserted " << rows << std::endl;
  }
  Exec(db, "COMMIT");
  sqlite3_finalize(ins);
  auto t1 = Clock::now();
  Exec(db, "INSERT INTO docs(docs) VALUES('optimize')");
  auto t2 = Clock::now();
  Exec(db, "CREATE TABLE bench_done(rows INTEGER); INSERT INTO bench_done VALUES(" +
               std::to_string(rows) + ")");
  sqlite3_close(db);
  const double insert_s = Ms(t0, t1) / 1e3, optimize_s = Ms(t1, t2) / 1e3;
  std::cerr << "  anchor: " << rows << " rows in " << insert_s << " s + optimize " << optimize_s
            << " s" << std::endl;
  return Json{{"rows", rows},
              {"skipped_lines", skipped},
              {"insert_s", insert_s},
              {"content_parse_s", parse_ms / 1e3},
              {"optimize_s", optimize_s},
              {"build_rows_per_s", rows / std::max(1e-9, insert_s + optimize_s)},
              {"disk_mib", DiskBytes(db_file) / 1048576.0},
              {"peak_rss_mib_so_far", VmHwmKb() / 1024.0}};
}

bool AnchorDone(const fs::path& db_file) {
  if (!fs::exists(db_file)) return false;
  sqlite3* db = nullptr;
  bool ok = false;
  if (sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT rows FROM bench_done", -1, &st, nullptr) == SQLITE_OK) {
      ok = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return ok;
}

// ---- reporting -----------------------------------------------------------------

struct Overlap {
  double mean_fraction = 0;  // mean over queries where FTS5 has hits: |ours ∩ fts5| / |fts5|
  int64_t queries = 0;       // queries where FTS5 has hits
  int64_t identical_sets = 0;
  int64_t ours_empty_fts5_not = 0;
  int64_t fts5_empty_ours_not = 0;
};

Overlap OverlapOf(const Series& ours, const Series& fts5) {
  Overlap o;
  double sum = 0;
  for (size_t i = 0; i < ours.ids.size(); ++i) {
    const auto& a = ours.ids[i];
    const auto& b = fts5.ids[i];
    if (a.empty() && !b.empty()) ++o.ours_empty_fts5_not;
    if (b.empty() && !a.empty()) ++o.fts5_empty_ours_not;
    if (b.empty()) continue;
    std::set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
    size_t common = 0;
    for (const auto& x : sb) common += sa.count(x);
    sum += static_cast<double>(common) / sb.size();
    ++o.queries;
    if (sa == sb) ++o.identical_sets;
  }
  o.mean_fraction = o.queries ? sum / o.queries : 0;
  return o;
}

Json OverlapJson(const Overlap& o) {
  return Json{{"mean_fraction_of_fts5_top10", o.mean_fraction},
              {"queries_where_fts5_has_hits", o.queries},
              {"identical_top10_sets", o.identical_sets},
              {"ours_empty_fts5_not", o.ours_empty_fts5_not},
              {"fts5_empty_ours_not", o.fts5_empty_ours_not}};
}

// Which latency a table or JSON field uses.
enum class Metric { kWall, kCpu, kMinWall };
const char* MetricName(Metric m) {
  switch (m) {
    case Metric::kWall:
      return "wall";
    case Metric::kCpu:
      return "cpu";
    case Metric::kMinWall:
      return "min_wall";
  }
  return "wall";
}
const std::vector<double>& Samples(const Series& s, Metric m) {
  return m == Metric::kWall ? s.lat_ms : m == Metric::kCpu ? s.cpu_ms : s.min_ms;
}

Json BucketsJson(const Series& s, const std::vector<Query>& qs, Metric m) {
  std::map<std::string, std::vector<double>> by_bucket;
  const auto& v = Samples(s, m);
  for (size_t k = 0; k < v.size(); ++k) by_bucket[qs[k % qs.size()].bucket].push_back(v[k]);
  Json b = Json::object();
  for (const auto& [name, bv] : by_bucket) {
    Stats bs = StatsOf(bv);
    b[name] = Json{{"p50_ms", bs.p50}, {"p95_ms", bs.p95}, {"mean_ms", bs.mean}, {"samples", bs.n}};
  }
  return b;
}

// Wall-clock stats at the top level (as the anchor reports them); CPU time and
// the per-query fastest pass in sub-objects.
Json SeriesJson(const Series& s, const std::vector<Query>& qs, const Series* ref) {
  auto with_ratio = [&](Metric m) {
    Stats st = StatsOf(Samples(s, m));
    Json j = StatsJson(st);
    if (ref) {
      Stats r = StatsOf(Samples(*ref, m));
      j["ratio_p50"] = r.p50 > 0 ? st.p50 / r.p50 : 0;
      j["ratio_p95"] = r.p95 > 0 ? st.p95 / r.p95 : 0;
    }
    return j;
  };
  Json j = with_ratio(Metric::kWall);
  if (ref) j["vs"] = ref->system + " " + ref->mode;
  int64_t with_hits = 0, total = 0;
  for (int64_t c : s.counts) {
    with_hits += c > 0;
    total += c;
  }
  j["queries"] = qs.size();
  j["queries_with_hits"] = with_hits;
  j["mean_results"] = qs.empty() ? 0.0 : static_cast<double>(total) / qs.size();
  j["by_bucket"] = BucketsJson(s, qs, Metric::kWall);
  j["cpu"] = with_ratio(Metric::kCpu);
  j["cpu"]["by_bucket"] = BucketsJson(s, qs, Metric::kCpu);
  j["min_of_passes"] = with_ratio(Metric::kMinWall);
  return j;
}

void PrintHeader(const char* title) {
  std::printf("\n%s\n%-8s %-14s %9s %9s %9s %9s %9s %6s  %8s %8s\n", title, "mode", "system",
              "p50 ms", "p95 ms", "p99 ms", "mean ms", "QPS", "w/hits", "p50 x", "p95 x");
}

void PrintRow(const Series& s, const Series* ref, Metric m) {
  Stats st = StatsOf(Samples(s, m));
  int64_t with_hits = 0;
  for (int64_t c : s.counts) with_hits += c > 0;
  std::printf("%-8s %-14s %9.3f %9.3f %9.3f %9.3f %9.0f %6lld", s.mode.c_str(), s.system.c_str(),
              st.p50, st.p95, st.p99, st.mean, st.qps, static_cast<long long>(with_hits));
  if (ref) {
    Stats r = StatsOf(Samples(*ref, m));
    std::printf("  %7.2fx %7.2fx", r.p50 > 0 ? st.p50 / r.p50 : 0, r.p95 > 0 ? st.p95 / r.p95 : 0);
  }
  std::printf("\n");
}

void PrintBuckets(const Series& s, const std::vector<Query>& qs, Metric m) {
  std::printf("  %-8s %-14s", s.mode.c_str(), s.system.c_str());
  const Json buckets = BucketsJson(s, qs, m);
  for (const auto& [name, v] : buckets.items()) {
    std::printf("  %s %.3f/%.3f", name.c_str(), v["p50_ms"].get<double>(),
                v["p95_ms"].get<double>());
  }
  std::printf("\n");
}

struct Args {
  std::string db, data, scratch, out;
  int repeat = 1;
  int cold_runs = 3;
  bool reuse_anchor = false;
  bool diag = true;
  bool text_index = true;
  bool manager = true;
  size_t max_queries = static_cast<size_t>(-1);
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + k);
      return argv[++i];
    };
    if (k == "--db")
      a.db = val();
    else if (k == "--data")
      a.data = val();
    else if (k == "--scratch")
      a.scratch = val();
    else if (k == "--out")
      a.out = val();
    else if (k == "--repeat")
      a.repeat = std::max(1, std::atoi(val().c_str()));
    else if (k == "--cold-runs")
      a.cold_runs = std::max(1, std::atoi(val().c_str()));
    else if (k == "--queries")
      a.max_queries = std::strtoull(val().c_str(), nullptr, 10);
    else if (k == "--reuse-anchor")
      a.reuse_anchor = true;
    else if (k == "--no-diag")
      a.diag = false;
    else if (k == "--text-index")
      a.text_index = val() != "off";
    else if (k == "--manager")
      a.manager = val() != "off";
    else
      Die("unknown option " + k +
          " (usage: --db DIR --data DATASET_DIR --scratch DIR --out FILE [--repeat N] "
          "[--reuse-anchor] [--no-diag] [--cold-runs N] [--queries N] [--text-index on|off] "
          "[--manager on|off])");
  }
  if (a.db.empty() || a.data.empty() || a.scratch.empty() || a.out.empty()) {
    Die("usage: nodespace_text_bench --db DIR --data DATASET_DIR --scratch DIR --out FILE "
        "[--repeat N] [--reuse-anchor] [--no-diag] [--cold-runs N] [--queries N] "
        "[--text-index on|off] [--manager on|off]");
  }
  return a;
}

std::vector<std::string> IdsOf(const nodespace::TextSearchResult& r) {
  std::vector<std::string> ids;
  ids.reserve(r.hits.size());
  for (const auto& h : r.hits) ids.push_back(h.node.id);
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  const fs::path data(args.data), scratch(args.scratch);
  fs::create_directories(scratch);
  const fs::path anchor_file = scratch / "fts5_anchor.sqlite";
  const fs::path ns_file = fs::path(args.db) / "nodespace.db";
  if (!fs::exists(ns_file)) Die("no NodeSpace database at " + ns_file.string());

  Json out;
  out["benchmark"] = "nodespace_text_bench";
  out["dataset"] = args.data;
  out["db"] = args.db;
  out["sqlite_version"] = sqlite3_libversion();
  out["repeat"] = args.repeat;
  out["loadavg_1m_start"] = LoadAvg1();
  out["nodespace_db_disk_mib"] = DiskBytes(args.db) / 1048576.0;

  const std::vector<Query> qs = LoadQueries(data / "queries_text.jsonl", args.max_queries);
  const size_t nq = qs.size();
  out["queries"] = nq;
  std::cerr << nq << " queries" << std::endl;

  // ---- (1) the anchor's index -------------------------------------------------
  if (args.reuse_anchor && AnchorDone(anchor_file)) {
    std::cerr << "reusing " << anchor_file << std::endl;
    out["fts5_build"] =
        Json{{"reused", anchor_file.string()}, {"disk_mib", DiskBytes(anchor_file) / 1048576.0}};
  } else {
    std::cerr << "building the FTS5 anchor in " << anchor_file << std::endl;
    out["fts5_build"] = BuildAnchor(data / "nodes.jsonl", anchor_file);
  }

  sqlite3* fdb = nullptr;
  Check(fdb, sqlite3_open_v2(anchor_file.c_str(), &fdb, SQLITE_OPEN_READONLY, nullptr),
        "open anchor");
  sqlite3_stmt* fq =
      Prepare(fdb, "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 10");

  nodespace::Options opt;
  opt.create_if_missing = false;
  opt.text_index = args.text_index;
  // Off: no scaling manager, so no action (a split, a migration, an index
  // rebuild) runs in the middle of the timed passes.
  if (!args.manager) opt.scaling.enabled = false;
  auto t_open0 = Clock::now();
  auto opened = nodespace::Database::Open(args.db, opt);
  auto t_open1 = Clock::now();
  if (!opened.ok()) Die("open " + args.db + ": " + opened.status().ToString());
  std::unique_ptr<nodespace::Database> db = std::move(opened).value();
  out["nodespace_first_open_ms"] = Ms(t_open0, t_open1);

  auto search = [&](const std::string& query, bool strict, std::string* fts = nullptr) {
    nodespace::TextSearchOptions o;
    o.query = query;
    o.limit = 10;
    if (strict) {
      o.match_subtrees = false;
      o.any_term_fallback = false;
    }
    auto r = db->SearchText(o);
    if (!r.ok()) Die("SearchText(" + query + "): " + r.status().ToString());
    if (fts) *fts = r.value().fts_query;
    return IdsOf(r.value());
  };

  // The text index builds on a thread of its own after the first search
  // (FTS5 answers meanwhile); the timed passes measure it built.
  if (args.text_index && nq > 0) {
    const auto t0 = Clock::now();
    nodespace::TextSearchOptions o;
    o.query = qs[0].or_q;
    o.match_subtrees = false;
    o.any_term_fallback = false;
    std::string ranked_by;
    while (Ms(t0, Clock::now()) < 600000) {
      auto r = db->SearchText(o);
      if (!r.ok()) Die("SearchText(" + o.query + "): " + r.status().ToString());
      ranked_by = r.value().ranked_by;
      if (ranked_by == "text_index") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    out["text_index_ready_ms"] = Ms(t0, Clock::now());
    std::printf("text index ready %.0f ms after the first search (ranked by %s)\n",
                Ms(t0, Clock::now()), ranked_by.c_str());
  }
  out["text_index"] = args.text_index;

  // The FTS expressions SearchText runs (for the diagnosis rows).
  std::vector<std::string> fts_and(nq), fts_or(nq);
  for (size_t i = 0; i < nq; ++i) {
    (void)search(qs[i].and_q, true, &fts_and[i]);
    (void)search(qs[i].or_q, true, &fts_or[i]);
  }

  // Diagnosis statements: SearchText's SQL straight on nodespace.db.
  Json diag_json = Json::object();
  sqlite3* ndb = nullptr;
  sqlite3_stmt *s_join = nullptr, *s_fts = nullptr, *s_rank = nullptr, *s_snip = nullptr,
               *s_count = nullptr;
  if (args.diag) {
    Check(ndb, sqlite3_open_v2(ns_file.c_str(), &ndb, SQLITE_OPEN_READONLY, nullptr), "open ns");
    Exec(ndb, "PRAGMA cache_size = -" + std::to_string(opt.page_cache_mib * 1024));
    const double w = nodespace::TextSearchOptions().title_weight;
    char rank_sql[256];
    std::snprintf(rank_sql, sizeof rank_sql,
                  "SELECT rowid, rank FROM nodes_fts WHERE nodes_fts MATCH ?1 AND rank MATCH "
                  "'bm25(%s, 1.0)' ORDER BY rank LIMIT 18 OFFSET 0",
                  std::to_string(w).c_str());
    s_join = Prepare(
        ndb,
        "SELECT nodes_fts.rowid, bm25(nodes_fts, ?2, 1.0) AS s FROM nodes_fts JOIN nodes ON "
        "nodes.rowid = nodes_fts.rowid WHERE nodes_fts MATCH ?1 AND nodes.lifecycle <= ?3 "
        "ORDER BY s LIMIT ?4");
    sqlite3_bind_double(s_join, 2, w);
    sqlite3_bind_int64(s_join, 3, 0);
    sqlite3_bind_int64(s_join, 4, 10);
    s_fts = Prepare(ndb,
                    "SELECT rowid, bm25(nodes_fts, ?2, 1.0) AS s FROM nodes_fts "
                    "WHERE nodes_fts MATCH ?1 ORDER BY s LIMIT 10");
    sqlite3_bind_double(s_fts, 2, w);
    s_rank = Prepare(ndb, rank_sql);
    s_snip = Prepare(ndb,
                     "SELECT snippet(nodes_fts, -1, '[', ']', '…', 16) FROM "
                     "nodes_fts WHERE nodes_fts MATCH ?1 AND rowid = ?2");
    s_count = Prepare(ndb, "SELECT count(*) FROM nodes_fts WHERE nodes_fts MATCH ?1");
    sqlite3_stmt* ep = Prepare(
        ndb,
        "EXPLAIN QUERY PLAN SELECT nodes_fts.rowid, bm25(nodes_fts, 3.0, 1.0) AS s FROM "
        "nodes_fts JOIN nodes ON nodes.rowid = nodes_fts.rowid WHERE nodes_fts MATCH 'x' AND "
        "nodes.lifecycle <= 0 ORDER BY s LIMIT 10");
    Json plan = Json::array();
    while (sqlite3_step(ep) == SQLITE_ROW) {
      plan.push_back(reinterpret_cast<const char*>(sqlite3_column_text(ep, 3)));
    }
    sqlite3_finalize(ep);
    diag_json["main_query_plan"] = plan;
  }

  // ---- (2) the query sets: both systems (and the diagnosis rows) take turns ------------
  std::cerr << "queries (warm-up + " << args.repeat << " timed pass(es) each)" << std::endl;
  std::vector<Series> diag;
  std::map<std::string, std::vector<Series>> groups;
  for (const std::string mode : {"and", "or"}) {
    const bool is_and = mode == "and";
    const auto& fts = is_and ? fts_and : fts_or;
    std::vector<Runner> runners = {
        {"fts5", [&](size_t i) { return RunStmt(fdb, fq, is_and ? qs[i].and_q : qs[i].or_q); }},
        {"nodespace", [&](size_t i) { return search(is_and ? qs[i].and_q : qs[i].or_q, true); }}};
    std::vector<std::vector<std::string>> top(nq);
    if (args.diag) {
      for (size_t i = 0; i < nq; ++i) top[i] = RunStmt(ndb, s_join, fts[i]);
      runners.push_back({"sql_join", [&](size_t i) { return RunStmt(ndb, s_join, fts[i]); }});
      runners.push_back({"sql_fts_only", [&](size_t i) { return RunStmt(ndb, s_fts, fts[i]); }});
      runners.push_back({"sql_rank", [&](size_t i) { return RunStmt(ndb, s_rank, fts[i]); }});
      runners.push_back({"snippets", [&](size_t i) {
                           std::vector<std::string> got;
                           for (const std::string& rowid : top[i]) {
                             sqlite3_bind_int64(s_snip, 2,
                                                std::strtoll(rowid.c_str(), nullptr, 10));
                             if (!RunStmt(ndb, s_snip, fts[i]).empty()) got.push_back(rowid);
                           }
                           return got;
                         }});
      // How many rows match (untimed), per bucket.
      std::map<std::string, std::vector<double>> matches;
      for (size_t i = 0; i < nq; ++i) {
        std::vector<std::string> r = RunStmt(ndb, s_count, fts[i]);
        matches[qs[i].bucket].push_back(r.empty() ? 0 : std::atof(r[0].c_str()));
      }
      Json mj = Json::object();
      for (auto& [bk, v] : matches) {
        std::sort(v.begin(), v.end());
        double sum = 0;
        for (double x : v) sum += x;
        mj[bk] = Json{{"mean", sum / v.size()},
                      {"p50", v[v.size() / 2]},
                      {"p95", v[std::min(v.size() - 1, static_cast<size_t>(v.size() * 0.95))]},
                      {"max", v.back()}};
      }
      diag_json["matching_rows_" + mode] = mj;
    }
    groups[mode] = MeasureGroup(mode, nq, args.repeat, runners);
    for (size_t r = 2; r < groups[mode].size(); ++r) diag.push_back(groups[mode][r]);
  }
  groups["default"] =
      MeasureGroup("default", nq, args.repeat,
                   {{"nodespace", [&](size_t i) { return search(qs[i].text, false); }}});
  const Series& f_and = groups["and"][0];
  const Series& n_and = groups["and"][1];
  const Series& f_or = groups["or"][0];
  const Series& n_or = groups["or"][1];
  const Series& n_def = groups["default"][0];
  if (args.diag) {
    for (sqlite3_stmt* st : {s_join, s_fts, s_rank, s_snip, s_count}) sqlite3_finalize(st);
    sqlite3_close(ndb);
  }

  // ---- (4) cold open + first query --------------------------------------------------
  db.reset();
  sqlite3_finalize(fq);
  sqlite3_close(fdb);
  Json cold = Json::array();
  std::vector<double> cold_open, cold_first;
  for (int r = 0; r < args.cold_runs; ++r) {
    auto t0 = Clock::now();
    auto o = nodespace::Database::Open(args.db, opt);
    auto t1 = Clock::now();
    if (!o.ok()) Die("open " + args.db + ": " + o.status().ToString());
    nodespace::TextSearchOptions so;
    so.query = qs[0].and_q;
    so.match_subtrees = false;
    so.any_term_fallback = false;
    auto res = o.value()->SearchText(so);
    auto t2 = Clock::now();
    if (!res.ok()) Die("first query: " + res.status().ToString());
    cold_open.push_back(Ms(t0, t1));
    cold_first.push_back(Ms(t1, t2));
    cold.push_back(Json{{"open_ms", Ms(t0, t1)}, {"first_query_ms", Ms(t1, t2)}});
  }
  std::vector<double> fcold;
  for (int r = 0; r < args.cold_runs; ++r) {
    auto t0 = Clock::now();
    sqlite3* c = nullptr;
    Check(c, sqlite3_open_v2(anchor_file.c_str(), &c, SQLITE_OPEN_READONLY, nullptr),
          "open anchor");
    sqlite3_stmt* st =
        Prepare(c, "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 10");
    (void)RunStmt(c, st, qs[0].and_q);
    sqlite3_finalize(st);
    fcold.push_back(Ms(t0, Clock::now()));
    sqlite3_close(c);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  out["cold_open"] = Json{{"note", "page cache warm; first query = strict AND of query 0"},
                          {"nodespace_runs", cold},
                          {"nodespace_open_ms_median", median(cold_open)},
                          {"nodespace_first_query_ms_median", median(cold_first)},
                          {"fts5_open_and_first_query_ms", fcold},
                          {"fts5_open_and_first_query_ms_median", median(fcold)}};

  // ---- (5) report ----------------------------------------------------------------
  Json modes = Json::object();
  modes["and"] = Json{{"fts5", SeriesJson(f_and, qs, nullptr)},
                      {"nodespace", SeriesJson(n_and, qs, &f_and)},
                      {"top10_overlap", OverlapJson(OverlapOf(n_and, f_and))}};
  modes["or"] = Json{{"fts5", SeriesJson(f_or, qs, nullptr)},
                     {"nodespace", SeriesJson(n_or, qs, &f_or)},
                     {"top10_overlap", OverlapJson(OverlapOf(n_or, f_or))}};
  modes["default"] = Json{{"nodespace", SeriesJson(n_def, qs, nullptr)}};
  out["modes"] = modes;
  if (args.diag) {
    for (const Series& s : diag) {
      diag_json[s.mode][s.system] = SeriesJson(s, qs, s.mode == "and" ? &f_and : &f_or);
    }
    out["diagnosis"] = diag_json;
  }
  Json targets = Json::object();
  for (Metric m : {Metric::kWall, Metric::kCpu}) {
    const Stats an = StatsOf(Samples(n_and, m)), af = StatsOf(Samples(f_and, m));
    const Stats on = StatsOf(Samples(n_or, m)), of = StatsOf(Samples(f_or, m));
    targets[MetricName(m)] = Json{{"and_p95_le_fts5_and_p95", an.p95 <= af.p95},
                                  {"or_p95_le_half_fts5_or_p95", on.p95 <= 0.5 * of.p95}};
  }
  out["targets"] = targets;
  out["loadavg_1m_end"] = LoadAvg1();
  out["peak_rss_mib"] = VmHwmKb() / 1024.0;

  std::printf(
      "\nnodespace_text_bench  %s  (%zu queries, %d timed pass(es), SQLite %s, "
      "load avg %.1f -> %.1f)\n",
      args.data.c_str(), nq, args.repeat, sqlite3_libversion(),
      out["loadavg_1m_start"].get<double>(), out["loadavg_1m_end"].get<double>());
  const Json& b = out["fts5_build"];
  if (b.contains("insert_s")) {
    std::printf("FTS5 anchor build: %lld rows, insert %.2f s + optimize %.2f s, %.1f MiB\n",
                static_cast<long long>(b["rows"].get<int64_t>()), b["insert_s"].get<double>(),
                b["optimize_s"].get<double>(), b["disk_mib"].get<double>());
  } else {
    std::printf("FTS5 anchor: reused %s (%.1f MiB)\n", anchor_file.c_str(),
                b["disk_mib"].get<double>());
  }
  std::printf("NodeSpace db: %.1f MiB on disk\n", out["nodespace_db_disk_mib"].get<double>());
  std::vector<Metric> metrics = {Metric::kWall, Metric::kCpu};
  if (args.repeat > 1) metrics.push_back(Metric::kMinWall);
  for (Metric m : metrics) {
    PrintHeader(m == Metric::kWall  ? "wall clock, all timed samples (as the anchor reports):"
                : m == Metric::kCpu ? "thread CPU time (robust to a loaded machine):"
                                    : "wall clock, fastest pass per query:");
    PrintRow(f_and, nullptr, m);
    PrintRow(n_and, &f_and, m);
    PrintRow(f_or, nullptr, m);
    PrintRow(n_or, &f_or, m);
    PrintRow(n_def, nullptr, m);
    for (const Series& s : diag) PrintRow(s, s.mode == "and" ? &f_and : &f_or, m);
  }
  for (Metric m : {Metric::kWall, Metric::kCpu}) {
    std::printf("\np50/p95 ms by bucket (%s):\n", MetricName(m));
    for (const Series* s : {&f_and, &n_and, &f_or, &n_or, &n_def}) PrintBuckets(*s, qs, m);
    for (const Series& s : diag) PrintBuckets(s, qs, m);
  }
  if (args.diag) {
    for (const char* m : {"and", "or"}) {
      std::printf("matching rows (%s), mean by bucket:", m);
      for (const auto& [bk, v] : diag_json["matching_rows_" + std::string(m)].items()) {
        std::printf("  %s %.0f", bk.c_str(), v["mean"].get<double>());
      }
      std::printf("\n");
    }
  }
  for (const char* m : {"and", "or"}) {
    const Json& o = out["modes"][m]["top10_overlap"];
    std::printf(
        "top-10 overlap %s (nodespace vs fts5): %.3f of FTS5's ids, %lld/%lld identical "
        "sets, ours empty where FTS5 not: %lld, FTS5 empty where ours not: %lld\n",
        m, o["mean_fraction_of_fts5_top10"].get<double>(),
        static_cast<long long>(o["identical_top10_sets"].get<int64_t>()),
        static_cast<long long>(o["queries_where_fts5_has_hits"].get<int64_t>()),
        static_cast<long long>(o["ours_empty_fts5_not"].get<int64_t>()),
        static_cast<long long>(o["fts5_empty_ours_not"].get<int64_t>()));
  }
  std::printf(
      "cold open (page cache warm, median of %d): NodeSpace open %.2f ms + first query "
      "%.2f ms; FTS5 open + first query %.2f ms\n",
      args.cold_runs, median(cold_open), median(cold_first), median(fcold));
  for (Metric m : {Metric::kWall, Metric::kCpu}) {
    const Stats an = StatsOf(Samples(n_and, m)), af = StatsOf(Samples(f_and, m));
    const Stats on = StatsOf(Samples(n_or, m)), of = StatsOf(Samples(f_or, m));
    std::printf(
        "targets (%s): AND p95 %.3f <= FTS5 AND p95 %.3f: %s;  OR p95 %.3f <= FTS5 OR "
        "p95 / 2 = %.3f: %s\n",
        MetricName(m), an.p95, af.p95, an.p95 <= af.p95 ? "yes" : "NO", on.p95, of.p95 / 2,
        on.p95 <= 0.5 * of.p95 ? "yes" : "NO");
  }

  std::ofstream of(args.out);
  of << out.dump(2) << "\n";
  if (!of) Die("cannot write " + args.out);
  std::printf("wrote %s\n", args.out.c_str());
  return 0;
}
