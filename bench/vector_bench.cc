// Vector index benchmark: NodeSpace HnswIndex against hnswlib (the anchor in
// /work/shared/bench/anchors/hnswlib_bench.cpp), in one run on one dataset.
//
//   nodespace_vector_bench DATA_DIR [--M 16] [--efc 200] [--efs 16,32,64,128,256]
//       [--filtered-queries 200] [--filtered-efs 64,128] [--auto-ef 64] [--index PATH]
//       [--hnswlib-threads 1] [--no-hnswlib] [--parallel-build] [--reuse-index] [--int8]
//
// DATA_DIR holds vectors.f32 (N x D float32, unit length, inner product),
// queries_vec.f32 (Q x D) and gt_vec_ids.i32 (Q x 100 exact neighbour ids), as
// written by /work/shared/bench/make_dataset.py. D is taken from
// node_created.i64 (N rows) when present, else --dim (384).
//
// Measured like the anchor: one query at a time on one thread, recall@10
// against the first 10 ground-truth ids, latency percentiles and QPS from the
// per-query times. Both indexes are built single-threaded with the same M and
// ef_construction (NodeSpace starts no threads; --hnswlib-threads gives
// hnswlib more). --parallel-build builds the two at the same time, each on
// its own thread (for 1M runs on a two-core machine); build CPU is then each
// thread's own CPU time, and memory is each index's own accounting since the
// two grow the same process at once. Filtered search: a random allowed subset
// (fixed seed) at 1/10/50 % selectivity, ground truth by brute force over the
// subset for the first --filtered-queries queries; graph modes at each
// --filtered-efs, and "auto" (the plan the engine picks from the count) at
// --auto-ef, the ef the engine would search with. A file named by --index is
// kept; --reuse-index opens it, when it exists, instead of building (to
// re-measure searches; the build row then reports 0), and hnswlib's graph
// from PATH.hnswlib likewise (built and saved there when missing). --int8 with a reused
// index quantizes it at open (HnswIndex::Quantize: codes in memory, the file
// stays mapped), so every search of the run, filtered ones included, walks
// and scans 8-bit codes and re-scores with floats.
//
// Prints one JSON object per line, then a readable table.
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "env/env.h"
#include "index/vector/distance.h"
#include "index/vector/hnsw_index.h"

// hnswlib picks its SIMD kernels from __AVX__ at compile time. The anchor is
// built with -march=native; our build adds no -march flag, so compile only
// hnswlib's code for AVX2+FMA (it checks the CPU again at run time) to
// compare against it at its best, as the anchor does.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define USE_SSE
#define USE_AVX
#define NS_HNSWLIB_AVX 1
#endif
#include <hnswlib/hnswlib.h>
#if defined(NS_HNSWLIB_AVX)
#pragma GCC pop_options
#endif

namespace {

using nodespace::Env;
using nodespace::vector::HnswIndex;
using nodespace::vector::HnswOptions;
using nodespace::vector::LabelBitsetFilter;
using nodespace::vector::Metric;
using nodespace::vector::SearchContext;
using nodespace::vector::SearchResult;

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used by the whole process. The benchmark machine is shared; CPU
// time is what to compare when the wall clock includes waiting for a core.
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// CPU seconds used by the calling thread (builds that run side by side).
double ThreadCpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

template <typename T>
std::vector<T> ReadRaw(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    std::fprintf(stderr, "missing file: %s\n", path.c_str());
    std::exit(2);
  }
  std::streamsize bytes = f.tellg();
  f.seekg(0);
  std::vector<T> v(static_cast<size_t>(bytes) / sizeof(T));
  f.read(reinterpret_cast<char*>(v.data()), bytes);
  return v;
}

size_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

// Resident memory in MiB from /proc/self/status ("VmRSS" now, "VmHWM" peak).
double ProcMiB(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, n, field) == 0 && line[n] == ':')
      return std::atof(line.c_str() + n + 1) / 1024.0;
  }
  return -1;
}

double RecallAt(const std::vector<int64_t>& got, const int32_t* gt, size_t k) {
  size_t exact = 0, hit = 0;
  for (size_t j = 0; j < k; ++j) {
    if (gt[j] < 0) break;
    ++exact;
    for (size_t i = 0; i < std::min(got.size(), k); ++i) {
      if (got[i] == gt[j]) {
        ++hit;
        break;
      }
    }
  }
  return exact ? double(hit) / double(exact) : 1.0;
}

struct Lat {
  double p50, p95, p99, mean, qps;
  double cpu_qps = 0;  // queries per CPU second (0: not measured)
};
Lat Stats(std::vector<double> secs) {
  std::sort(secs.begin(), secs.end());
  auto pct = [&](double p) {
    size_t i = size_t(
        std::min<double>(double(secs.size() - 1), std::floor(p * double(secs.size() - 1) + 0.5)));
    return secs[i] * 1e3;
  };
  double sum = 0;
  for (double s : secs) sum += s;
  return {pct(0.5), pct(0.95), pct(0.99), sum / double(secs.size()) * 1e3,
          double(secs.size()) / sum};
}

std::string Fmt(double x, int prec = 4) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, x);
  return b;
}

std::string LatJson(const Lat& s) {
  return "\"p50_ms\": " + Fmt(s.p50) + ", \"p95_ms\": " + Fmt(s.p95) +
         ", \"p99_ms\": " + Fmt(s.p99) + ", \"mean_ms\": " + Fmt(s.mean) +
         ", \"qps_1thread\": " + Fmt(s.qps, 1);
}

std::vector<std::string> g_table;
void Emit(const std::string& json) {
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
}
void Row(const std::string& row) {
  g_table.push_back(row);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s DATA_DIR [--M 16] [--efc 200] [--efs 16,32,64,128,256] "
                 "[--filtered-queries 200] [--filtered-efs 64,128] [--auto-ef 64] [--index PATH] "
                 "[--hnswlib-threads 1] [--no-hnswlib] [--parallel-build] [--reuse-index] [--int8] "
                 "[--dim 384]\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  uint32_t m = 16, efc = 200;
  size_t filtered_queries = 200, dim = 384;
  int hnswlib_threads = 1;
  bool run_hnswlib = true;
  bool parallel_build = false;
  bool reuse_index = false;
  bool quantize_reused = false;
  bool index_named = false;
  std::vector<int> efs = {16, 32, 64, 128, 256};
  std::vector<int> filtered_efs = {64, 128};
  int auto_ef = 64;
  auto parse_list = [](const std::string& text) {
    std::vector<int> out;
    std::stringstream ss(text);
    std::string tok;
    while (std::getline(ss, tok, ',')) out.push_back(std::atoi(tok.c_str()));
    return out;
  };
  std::string index_path = dir + "/nodespace_bench.hnsw";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--M")
      m = uint32_t(std::atoi(next().c_str()));
    else if (a == "--efc")
      efc = uint32_t(std::atoi(next().c_str()));
    else if (a == "--filtered-queries")
      filtered_queries = size_t(std::atoi(next().c_str()));
    else if (a == "--index") {
      index_path = next();
      index_named = true;
    } else if (a == "--hnswlib-threads")
      hnswlib_threads = std::atoi(next().c_str());
    else if (a == "--no-hnswlib")
      run_hnswlib = false;
    else if (a == "--dim")
      dim = size_t(std::atoi(next().c_str()));
    else if (a == "--efs")
      efs = parse_list(next());
    else if (a == "--filtered-efs")
      filtered_efs = parse_list(next());
    else if (a == "--auto-ef")
      auto_ef = std::atoi(next().c_str());
    else if (a == "--parallel-build")
      parallel_build = true;
    else if (a == "--reuse-index")
      reuse_index = true;
    else if (a == "--int8")
      quantize_reused = true;
  }
  if (quantize_reused && !reuse_index) {
    std::fprintf(stderr, "--int8 applies to a reused index (--reuse-index --index PATH)\n");
    return 2;
  }
  if (parallel_build && hnswlib_threads != 1) {
    std::fprintf(stderr,
                 "--parallel-build runs each build on one thread: drop --hnswlib-threads\n");
    return 2;
  }
  const size_t K = 10;

  std::vector<float> X = ReadRaw<float>(dir + "/vectors.f32");
  if (FileSize(dir + "/node_created.i64") > 0) {
    dim = X.size() / (FileSize(dir + "/node_created.i64") / sizeof(int64_t));
  }
  const size_t n = X.size() / dim;
  std::vector<float> Q = ReadRaw<float>(dir + "/queries_vec.f32");
  std::vector<int32_t> gt = ReadRaw<int32_t>(dir + "/gt_vec_ids.i32");
  const size_t nq = Q.size() / dim;
  const size_t gt_k = gt.size() / nq;
  filtered_queries = std::min(filtered_queries, nq);
  std::fprintf(stderr, "loaded %zu x %zu, %zu queries (gt top-%zu), kernels %s\n", n, dim, nq, gt_k,
               nodespace::vector::ActiveKernelName());
  Emit("{\"kind\": \"dataset\", \"dir\": \"" + dir + "\", \"n\": " + std::to_string(n) +
       ", \"dim\": " + std::to_string(dim) + ", \"queries\": " + std::to_string(nq) +
       ", \"M\": " + std::to_string(m) + ", \"ef_construction\": " + std::to_string(efc) +
       ", \"kernels\": \"" + nodespace::vector::ActiveKernelName() + "\"}");

  // ---- build: NodeSpace and hnswlib -------------------------------------------
  HnswOptions opt;
  opt.dim = dim;
  opt.metric = Metric::kDot;
  opt.m = m;
  opt.ef_construction = efc;
  opt.seed = 100;
  opt.int8 = true;  // trained explicitly below; until then searches use floats
  opt.int8_train_size = uint32_t(n + 1);
  std::unique_ptr<HnswIndex> ours = HnswIndex::Create(opt).value();
  double ours_build = 0, ours_build_cpu = 0, ours_rss = 0;
  nodespace::Status ours_status;
  auto build_ours = [&] {
    if (reuse_index && FileSize(index_path) > 0) {
      auto reopened = HnswIndex::Open(*Env::Default(), index_path);
      if (!reopened.ok()) {
        ours_status = reopened.status();
        return;
      }
      ours = std::move(*reopened);
      std::fprintf(stderr, "reusing %s (M %u, ef_construction %u, int8 codes %s)\n",
                   index_path.c_str(), ours->options().m, ours->options().ef_construction,
                   ours->options().int8 && ours->quantizer_trained() ? "on" : "off");
      if (quantize_reused) {
        const double q0 = Now();
        ours_status = ours->Quantize();
        if (!ours_status.ok()) return;
        Emit("{\"system\": \"nodespace int8\", \"kind\": \"quantize\", \"s\": " +
             Fmt(Now() - q0, 3) + "}");
        std::fprintf(stderr, "quantized in %.1f s: every search below walks int8 codes\n",
                     Now() - q0);
      }
      return;
    }
    const double rss0 = ProcMiB("VmRSS");
    const double t0 = Now();
    const double c0 = ThreadCpuNow();
    ours->Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      ours_status = ours->Insert(int64_t(i), {X.data() + i * dim, dim});
      if (!ours_status.ok()) return;
      if (i % 100000 == 0 && i)
        std::fprintf(stderr, "  nodespace inserted %zu (%.0fs)\n", i, Now() - t0);
    }
    ours_build = Now() - t0;
    ours_build_cpu = ThreadCpuNow() - c0;
    ours_rss = ProcMiB("VmRSS") - rss0;
  };

  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hl;
  double hl_build = 0, hl_build_cpu = 0, hl_rss = 0;
  auto build_hl = [&] {
    space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    if (reuse_index && FileSize(index_path + ".hnswlib") > 0) {
      hl = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), index_path + ".hnswlib");
      std::fprintf(stderr, "reusing %s.hnswlib\n", index_path.c_str());
      return;
    }
    const double rss0 = ProcMiB("VmRSS");
    const double t0 = Now();
    const double c0 = hnswlib_threads == 1 ? ThreadCpuNow() : CpuNow();
    hl = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), n, m, efc, 100);
    hl->addPoint(X.data(), 0);
    std::atomic<size_t> next(1);
    auto add_points = [&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) {
        hl->addPoint(X.data() + i * dim, i);
        if (i % 100000 == 0)
          std::fprintf(stderr, "  hnswlib inserted %zu (%.0fs)\n", i, Now() - t0);
      }
    };
    if (hnswlib_threads == 1) {
      add_points();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < hnswlib_threads; ++t) pool.emplace_back(add_points);
      for (auto& t : pool) t.join();
    }
    hl_build = Now() - t0;
    hl_build_cpu = (hnswlib_threads == 1 ? ThreadCpuNow() : CpuNow()) - c0;
    hl_rss = ProcMiB("VmRSS") - rss0;
  };

  if (parallel_build && run_hnswlib) {
    const double rss0 = ProcMiB("VmRSS");
    std::thread hl_thread(build_hl);
    build_ours();
    hl_thread.join();
    // Both grew the process at once: give each its own accounting (hnswlib:
    // its level-0 block plus its upper-level link lists), and the sum as RSS.
    const double both_rss = ProcMiB("VmRSS") - rss0;
    ours_rss = double(ours->MemoryUsage()) / 1048576.0;
    size_t upper = 0;
    for (size_t i = 0; i < n; ++i)
      upper += size_t(hl->element_levels_[i]) * hl->size_links_per_element_;
    hl_rss = double(n * hl->size_data_per_element_ + upper) / 1048576.0;
    std::fprintf(stderr, "both built, rss +%.0f MiB\n", both_rss);
    Emit("{\"kind\": \"parallel_build\", \"rss_growth_mib\": " + Fmt(both_rss, 1) + "}");
  } else {
    build_ours();
    if (run_hnswlib) build_hl();
  }
  if (!ours_status.ok()) {
    std::fprintf(stderr, "insert failed: %s\n", ours_status.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "nodespace build %.1fs, %.0f MiB\n", ours_build, ours_rss);
  Emit("{\"system\": \"nodespace\", \"kind\": \"build\", \"threads\": 1, \"build_s\": " +
       Fmt(ours_build, 2) + ", \"build_cpu_s\": " + Fmt(ours_build_cpu, 2) +
       ", \"vectors_per_s\": " + Fmt(double(n) / ours_build, 0) +
       ", \"index_rss_mib\": " + Fmt(ours_rss, 1) +
       ", \"memory_usage_mib\": " + Fmt(double(ours->MemoryUsage()) / 1048576.0, 1) + "}");
  if (run_hnswlib) {
    std::fprintf(stderr, "hnswlib build %.1fs, %.0f MiB\n", hl_build, hl_rss);
    Emit("{\"system\": \"hnswlib\", \"kind\": \"build\", \"threads\": " +
         std::to_string(hnswlib_threads) + ", \"build_s\": " + Fmt(hl_build, 2) +
         ", \"build_cpu_s\": " + Fmt(hl_build_cpu, 2) + ", \"vectors_per_s\": " +
         Fmt(double(n) / hl_build, 0) + ", \"index_rss_mib\": " + Fmt(hl_rss, 1) + "}");
  }
  Row("| build wall / CPU (1 thread" +
      std::string(hnswlib_threads > 1 ? "; hnswlib " + std::to_string(hnswlib_threads) : "") +
      ") | " + Fmt(ours_build, 1) + " s / " + Fmt(ours_build_cpu, 1) + " s | " +
      (run_hnswlib ? Fmt(hl_build, 1) + " s / " + Fmt(hl_build_cpu, 1) + " s" : "-") + " |");
  Row(std::string(parallel_build ? "| index memory (own accounting) | "
                                 : "| index memory (RSS growth) | ") +
      Fmt(ours_rss, 0) + " MiB | " + (run_hnswlib ? Fmt(hl_rss, 0) + " MiB" : "-") + " |");

  // ---- unfiltered kNN ---------------------------------------------------------
  SearchContext ctx;
  std::vector<std::string> knn_rows;
  auto run_ours = [&](const HnswIndex& index, int ef, const char* label) {
    std::vector<double> lat;
    double rec = 0;
    uint64_t dists = 0, visited = 0;
    std::vector<int64_t> ids;
    const double cpu0 = CpuNow();
    for (size_t q = 0; q < nq; ++q) {
      double a = Now();
      auto r = index.Search({Q.data() + q * dim, dim}, K, size_t(ef), nullptr, &ctx);
      lat.push_back(Now() - a);
      ids.clear();
      for (auto& nb : r->neighbors) ids.push_back(nb.label);
      rec += RecallAt(ids, gt.data() + q * gt_k, K);
      dists += r->stats.distances_computed + r->stats.int8_distances;
      visited += r->stats.nodes_visited;
    }
    const double cpu_qps = double(nq) / (CpuNow() - cpu0);
    Lat s = Stats(lat);
    s.cpu_qps = cpu_qps;
    Emit(std::string("{\"system\": \"") + label + "\", \"kind\": \"knn\", \"ef\": " +
         std::to_string(ef) + ", " + LatJson(s) + ", \"recall_at_10\": " + Fmt(rec / double(nq)) +
         ", \"distances_per_query\": " + Fmt(double(dists) / double(nq), 0) +
         ", \"nodes_visited_per_query\": " + Fmt(double(visited) / double(nq), 0) + "}");
    return std::make_pair(rec / double(nq), s);
  };
  auto run_hl = [&](int ef) {
    hl->setEf(std::max<size_t>(size_t(ef), K));
    std::vector<double> lat;
    double rec = 0;
    std::vector<int64_t> ids;
    const double cpu0 = CpuNow();
    for (size_t q = 0; q < nq; ++q) {
      double a = Now();
      auto res = hl->searchKnnCloserFirst(Q.data() + q * dim, K);
      lat.push_back(Now() - a);
      ids.clear();
      for (auto& p : res) ids.push_back(int64_t(p.second));
      rec += RecallAt(ids, gt.data() + q * gt_k, K);
    }
    const double cpu_qps = double(nq) / (CpuNow() - cpu0);
    Lat s = Stats(lat);
    s.cpu_qps = cpu_qps;
    Emit("{\"system\": \"hnswlib\", \"kind\": \"knn\", \"ef\": " + std::to_string(ef) + ", " +
         LatJson(s) + ", \"recall_at_10\": " + Fmt(rec / double(nq)) + "}");
    return std::make_pair(rec / double(nq), s);
  };
  Row("");
  Row("| ef | nodespace recall | nodespace QPS | nodespace p50 / p95 ms | hnswlib recall | hnswlib "
      "QPS | hnswlib p50 / p95 ms |");
  Row("| --- | --- | --- | --- | --- | --- | --- |");
  for (int ef : efs) {
    // Alternate the two so that machine noise hits both alike.
    auto o = run_ours(*ours, ef, "nodespace");
    std::string row = "| " + std::to_string(ef) + " | " + Fmt(o.first, 3) + " | " +
                      Fmt(o.second.qps, 0) + " (" + Fmt(o.second.cpu_qps, 0) + ") | " +
                      Fmt(o.second.p50, 3) + " / " + Fmt(o.second.p95, 3) + " | ";
    if (run_hnswlib) {
      auto h = run_hl(ef);
      row += Fmt(h.first, 3) + " | " + Fmt(h.second.qps, 0) + " (" + Fmt(h.second.cpu_qps, 0) +
             ") | " + Fmt(h.second.p50, 3) + " / " + Fmt(h.second.p95, 3) + " |";
    } else {
      row += "- | - | - |";
    }
    Row(row);
  }

  // ---- filtered kNN -------------------------------------------------------------
  Row("");
  Row("| selectivity | mode | recall@10 | p50 / p95 ms | QPS |");
  Row("| --- | --- | --- | --- | --- |");
  for (double sel : {0.01, 0.10, 0.50}) {
    std::mt19937_64 rng(uint64_t(sel * 1000) + 7);
    std::bernoulli_distribution pick(sel);
    std::vector<int64_t> allowed;
    LabelBitsetFilter bits{static_cast<int64_t>(n)};
    std::vector<char> allowed_mask(n, 0);
    for (size_t i = 0; i < n; ++i) {
      if (pick(rng)) {
        allowed.push_back(int64_t(i));
        bits.Allow(int64_t(i));
        allowed_mask[i] = 1;
      }
    }
    // Ground truth: brute force over the allowed rows.
    std::vector<std::vector<int32_t>> fgt(filtered_queries);
    for (size_t q = 0; q < filtered_queries; ++q) {
      std::vector<std::pair<float, int64_t>> all;
      all.reserve(allowed.size());
      for (int64_t id : allowed) {
        all.push_back(
            {-nodespace::vector::DotProduct(Q.data() + q * dim, X.data() + size_t(id) * dim, dim),
             id});
      }
      size_t kk = std::min(K, all.size());
      std::partial_sort(all.begin(), all.begin() + std::ptrdiff_t(kk), all.end());
      fgt[q].assign(K, -1);
      for (size_t j = 0; j < kk; ++j) fgt[q][j] = int32_t(all[j].second);
    }
    const auto plan = nodespace::vector::RecommendSearchPlan(
        int64_t(allowed.size()), int64_t(n),
        ours->FilteredBeam(K, size_t(auto_ef), int64_t(allowed.size())));
    struct Mode {
      std::string name;
      int kind;  // 0 graph, 1 exact, 2 auto, 3 hnswlib postfilter
      int ef;
    };
    std::vector<Mode> modes;
    for (int ef : filtered_efs)
      modes.push_back({"nodespace graph ef=" + std::to_string(ef), 0, ef});
    modes.push_back({"nodespace exact (allowed list)", 1, 0});
    modes.push_back({std::string("nodespace auto (plan: ") +
                         (plan == nodespace::vector::SearchPlan::kExact
                              ? std::string("exact")
                              : "graph ef=" + std::to_string(auto_ef)) +
                         ")",
                     2, auto_ef});
    if (run_hnswlib) modes.push_back({"hnswlib postfilter", 3, 0});
    for (const Mode& mode : modes) {
      std::vector<double> lat;
      double rec = 0;
      uint64_t dists = 0, ef_used = 0;
      std::vector<int64_t> ids;
      size_t kprime = size_t(std::ceil(double(K) / sel * 2));
      if (mode.kind == 3) hl->setEf(std::max<size_t>(kprime, 64));
      for (size_t q = 0; q < filtered_queries; ++q) {
        const float* qv = Q.data() + q * dim;
        ids.clear();
        double a = Now();
        if (mode.kind == 3) {
          auto res = hl->searchKnnCloserFirst(qv, kprime);
          for (auto& p : res) {
            if (allowed_mask[p.second]) ids.push_back(int64_t(p.second));
            if (ids.size() == K) break;
          }
        } else {
          bool exact =
              mode.kind == 1 || (mode.kind == 2 && plan == nodespace::vector::SearchPlan::kExact);
          auto r = exact ? ours->SearchExactAllowed({qv, dim}, K, allowed)
                         : ours->Search({qv, dim}, K, size_t(mode.ef), &bits, &ctx);
          for (auto& nb : r->neighbors) ids.push_back(nb.label);
          dists += r->stats.distances_computed;
          ef_used += r->stats.ef_used;
        }
        lat.push_back(Now() - a);
        rec += RecallAt(ids, fgt[q].data(), K);
      }
      Lat s = Stats(lat);
      double recall = rec / double(filtered_queries);
      Emit("{\"system\": \"" + std::string(mode.kind == 3 ? "hnswlib" : "nodespace") +
           "\", \"kind\": \"filtered\", \"selectivity\": " + Fmt(sel, 2) + ", \"mode\": \"" +
           mode.name + "\", \"allowed\": " + std::to_string(allowed.size()) +
           ", \"queries\": " + std::to_string(filtered_queries) + ", " + LatJson(s) +
           ", \"recall_at_10\": " + Fmt(recall) +
           (mode.kind == 3
                ? ", \"k_prime\": " + std::to_string(kprime)
                : ", \"distances_per_query\": " + Fmt(double(dists) / double(filtered_queries), 0) +
                      ", \"ef_used\": " + Fmt(double(ef_used) / double(filtered_queries), 0)) +
           "}");
      Row("| " + Fmt(sel * 100, 0) + "% | " + mode.name + " | " + Fmt(recall, 3) + " | " +
          Fmt(s.p50, 3) + " / " + Fmt(s.p95, 3) + " | " + Fmt(s.qps, 0) + " |");
    }
  }

  // A hnswlib graph built beside a reused index is kept for the next run.
  if (reuse_index && index_named && run_hnswlib && hl_build > 0) {
    hl->saveIndex(index_path + ".hnswlib");
  }
  if (reuse_index && ours_build == 0) {
    // A reopened index is measured for its searches only: it stays mapped
    // (int8 training and the save below would rewrite the file it maps).
    std::printf("\n# nodespace_vector_bench %s  n=%zu dim=%zu (reused %s)\n", dir.c_str(), n, dim,
                index_path.c_str());
    for (const std::string& row : g_table) std::printf("%s\n", row.c_str());
    return 0;
  }

  // ---- int8 traversal + float re-scoring ---------------------------------------
  double t0 = Now();
  if (!ours->TrainQuantizer().ok()) return 1;
  const double train_s = Now() - t0;
  Emit("{\"system\": \"nodespace int8\", \"kind\": \"train\", \"train_s\": " + Fmt(train_s, 3) +
       "}");
  Row("");
  Row("| ef | nodespace int8 (rescore 4k) recall | QPS (per CPU s) | p50 / p95 ms |");
  Row("| --- | --- | --- | --- |");
  for (int ef : efs) {
    auto o = run_ours(*ours, ef, "nodespace int8");
    Row("| " + std::to_string(ef) + " | " + Fmt(o.first, 3) + " | " + Fmt(o.second.qps, 0) + " (" +
        Fmt(o.second.cpu_qps, 0) + ") | " + Fmt(o.second.p50, 3) + " / " + Fmt(o.second.p95, 3) +
        " |");
  }

  // ---- save, open, first query --------------------------------------------------
  Row("");
  Row("| file | nodespace | hnswlib |");
  Row("| --- | --- | --- |");
  t0 = Now();
  nodespace::Status st = ours->Save(*Env::Default(), index_path, 42);
  const double save_s = Now() - t0;
  if (!st.ok()) {
    std::fprintf(stderr, "save failed: %s\n", st.message().c_str());
    return 1;
  }
  const size_t file_bytes = FileSize(index_path);
  // Reference answer from the in-memory index (float path; int8 is on).
  auto want = ours->Search({Q.data(), dim}, K, 64, nullptr, &ctx);
  ours.reset();
  t0 = Now();
  auto opened = HnswIndex::Open(*Env::Default(), index_path);
  const double open_s = Now() - t0;
  if (!opened.ok()) {
    std::fprintf(stderr, "open failed: %s\n", opened.status().message().c_str());
    return 1;
  }
  SearchContext fresh_ctx;
  t0 = Now();
  auto first = (*opened)->Search({Q.data(), dim}, K, 64, nullptr, &fresh_ctx);
  const double first_s = Now() - t0;
  bool same = first->neighbors.size() == want->neighbors.size();
  for (size_t i = 0; same && i < first->neighbors.size(); ++i)
    same = first->neighbors[i].label == want->neighbors[i].label;
  t0 = Now();
  const bool verified = (*opened)->Verify().ok();
  const double verify_s = Now() - t0;
  Emit("{\"system\": \"nodespace\", \"kind\": \"file\", \"save_s\": " + Fmt(save_s, 3) +
       ", \"file_mib\": " + Fmt(double(file_bytes) / 1048576.0, 1) +
       ", \"open_ms\": " + Fmt(open_s * 1e3, 3) + ", \"first_query_ms\": " + Fmt(first_s * 1e3, 3) +
       ", \"same_results\": " + (same ? "true" : "false") + ", \"verify_ms\": " +
       Fmt(verify_s * 1e3, 1) + ", \"verify_ok\": " + (verified ? "true" : "false") + "}");
  std::string hl_save = "-", hl_file = "-", hl_load = "-", hl_first = "-";
  if (run_hnswlib) {
    std::string hl_path = index_path + ".hnswlib";
    t0 = Now();
    hl->saveIndex(hl_path);
    double s1 = Now() - t0;
    size_t hl_bytes = FileSize(hl_path);
    hl.reset();
    t0 = Now();
    auto loaded = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), hl_path);
    double l1 = Now() - t0;
    loaded->setEf(64);
    t0 = Now();
    auto r = loaded->searchKnnCloserFirst(Q.data(), K);
    double f1 = Now() - t0;
    Emit("{\"system\": \"hnswlib\", \"kind\": \"file\", \"save_s\": " + Fmt(s1, 3) +
         ", \"file_mib\": " + Fmt(double(hl_bytes) / 1048576.0, 1) +
         ", \"load_ms\": " + Fmt(l1 * 1e3, 3) + ", \"first_query_ms\": " + Fmt(f1 * 1e3, 3) + "}");
    hl_save = Fmt(s1, 2) + " s";
    hl_file = Fmt(double(hl_bytes) / 1048576.0, 1) + " MiB";
    hl_load = Fmt(l1 * 1e3, 1) + " ms (reads the file)";
    hl_first = Fmt(f1 * 1e3, 3) + " ms";
    std::remove(hl_path.c_str());
  }
  Row("| save | " + Fmt(save_s, 2) + " s | " + hl_save + " |");
  Row("| file size | " + Fmt(double(file_bytes) / 1048576.0, 1) + " MiB | " + hl_file + " |");
  Row("| open | " + Fmt(open_s * 1e3, 3) + " ms (mmap + header) | " + hl_load + " |");
  Row("| first query after open | " + Fmt(first_s * 1e3, 3) + " ms | " + hl_first + " |");
  Row("| Verify() all checksums | " + Fmt(verify_s * 1e3, 1) + " ms | - |");
  Emit("{\"kind\": \"peak\", \"peak_rss_mib\": " + Fmt(ProcMiB("VmHWM"), 1) + "}");

  std::printf("\n# nodespace_vector_bench %s  n=%zu dim=%zu M=%u efc=%u kernels=%s\n", dir.c_str(),
              n, dim, m, efc, nodespace::vector::ActiveKernelName());
  std::printf("| | nodespace | hnswlib |\n| --- | --- | --- |\n");
  for (const std::string& row : g_table) std::printf("%s\n", row.c_str());
  // A file named with --index stays for later --reuse-index runs.
  if (!index_named) std::remove(index_path.c_str());
  return 0;
}
