// Load on `nodespace serve`: 1, 8, 64 and 256 concurrent HTTP clients, 80 %
// queries and 20 % writes, on a database imported from the benchmark
// dataset. Reports throughput, p50/p99 per kind, errors, and the
// write-to-notification latency seen by a change-feed subscriber; after the
// run it opens the database and checks that every acknowledged write is
// there.
//
//   NODESPACE_BIN=build-me/nodespace nodespace_server_load_bench /tmp/nsdata/100k
//       --db /tmp/nsbench/srv100k [--clients 1,8,64,256] [--seconds 10]
//       [--write-percent 20] [--out F.jsonl]
//
// The database must exist (nodespace import DATA/nodes.jsonl). The server
// runs as its own process (started and stopped here), with rate limiting
// off, so the clients measure the server, not the limiter.
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "bench_data.h"
#include "nodespace/database.h"

extern char** environ;

namespace nodespace::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Workload {
  std::vector<std::string> texts;           // full-text queries
  std::vector<std::vector<float>> vectors;  // kNN queries
  std::vector<std::string> node_ids;        // existing nodes to read
  std::vector<std::string> parents;         // where writes go
};

struct Level {
  int clients = 0;
  Latencies query, write;
  int64_t errors = 0;
  std::vector<std::string> error_samples;
  double seconds = 0;
};

// The write-to-notification latency: a change-feed subscriber matches
// create events to the moment the writer sent its request.
class FeedProbe {
 public:
  void Sent(const std::string& id, Clock::time_point t) {
    std::lock_guard lock(mu_);
    sent_[id] = t;
  }
  void Seen(const std::string& id, Clock::time_point t) {
    std::lock_guard lock(mu_);
    auto it = sent_.find(id);
    if (it == sent_.end()) {
      early_[id] = t;  // the event came before the writer recorded its send
      return;
    }
    latency_.ms.push_back(Ms(it->second, t));
    sent_.erase(it);
  }
  Latencies Take() {
    std::lock_guard lock(mu_);
    Latencies out = latency_;
    latency_ = {};
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Clock::time_point> sent_;
  std::map<std::string, Clock::time_point> early_;
  Latencies latency_;
};

pid_t StartServer(const std::string& bin, const std::string& db, const std::string& port_file) {
  std::vector<std::string> args = {
      "nodespace", "--db",         db,  "serve",          "--port", "0", "--port-file",
      port_file,   "--rate-limit", "0", "--no-access-log"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  if (posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int WaitForPort(const std::string& port_file) {
  for (int i = 0; i < 1200; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

Level RunLevel(int port, int clients, double seconds, int write_percent, const Workload& w,
               FeedProbe& probe, std::vector<std::string>* acknowledged, std::mutex* ack_mu) {
  Level level;
  level.clients = clients;
  std::mutex mu;
  std::atomic<uint64_t> serial{0};
  // Ids unique across runs on the same database.
  const std::string run_id = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count() %
                                            100000000) +
                             "-" + std::to_string(clients);
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client http("127.0.0.1", port);
      http.set_keep_alive(true);
      http.set_tcp_nodelay(true);
      http.set_read_timeout(60, 0);
      std::mt19937_64 rng(1234 + c);
      Latencies q, wr;
      int64_t errors = 0;
      std::vector<std::string> samples, mine;
      const httplib::Headers headers = {{"X-Client-Id", "bench-" + std::to_string(c)}};
      while (Clock::now() < end) {
        const bool write = static_cast<int>(rng() % 100) < write_percent;
        const auto t0 = Clock::now();
        std::string created;
        auto send = [&]() -> httplib::Result {
          if (write) {
            if (!mine.empty() && rng() % 2 == 0) {
              const std::string& id = mine[rng() % mine.size()];
              return http.Patch(
                  "/v1/nodes/" + id, headers,
                  json({{"content", "edited " + std::to_string(rng() % 1000)}}).dump(),
                  "application/json");
            } else {
              created = "load-" + run_id + "-" + std::to_string(c) + "-" +
                        std::to_string(serial.fetch_add(1));
              probe.Sent(created, t0);
              return http.Post("/v1/nodes", headers,
                               json({{"id", created},
                                     {"parent_id", w.parents[rng() % w.parents.size()]},
                                     {"content", "load test note " + created}})
                                   .dump(),
                               "application/json");
            }
          } else {
            switch (rng() % 4) {
              case 0:
                return http.Post(
                    "/v1/query", headers,
                    json({{"text", w.texts[rng() % w.texts.size()]}, {"limit", 10}}).dump(),
                    "application/json");
              case 1:
                return http.Post(
                    "/v1/query", headers,
                    json({{"vector", w.vectors[rng() % w.vectors.size()]}, {"limit", 10}}).dump(),
                    "application/json");
              case 2:
                return http.Get("/v1/nodes/" + w.node_ids[rng() % w.node_ids.size()], headers);
              default:
                return http.Get(
                    "/v1/nodes/" + w.parents[rng() % w.parents.size()] + "/children?limit=50",
                    headers);
            }
          }
        };
        httplib::Result r = send();
        const double ms = Ms(t0, Clock::now());
        const bool ok = r && r->status >= 200 && r->status < 300;
        if (!ok) {
          ++errors;
          if (samples.size() < 3) {
            samples.push_back(r ? std::to_string(r->status) + " " + r->body.substr(0, 160)
                                : "transport error " + httplib::to_string(r.error()));
          }
          continue;
        }
        (write ? wr : q).ms.push_back(ms);
        if (!created.empty()) mine.push_back(created);
      }
      std::lock_guard lock(mu);
      level.query.ms.insert(level.query.ms.end(), q.ms.begin(), q.ms.end());
      level.write.ms.insert(level.write.ms.end(), wr.ms.begin(), wr.ms.end());
      level.errors += errors;
      for (auto& s : samples) {
        if (level.error_samples.size() < 5) level.error_samples.push_back(s);
      }
      std::lock_guard ack(*ack_mu);
      acknowledged->insert(acknowledged->end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  level.seconds = Ms(start, Clock::now()) / 1000.0;
  return level;
}

}  // namespace
}  // namespace nodespace::bench

int main(int argc, char** argv) {
  using namespace nodespace::bench;
  if (argc < 2) {
    std::cerr << "usage: nodespace_server_load_bench DATA --db DIR [--clients 1,8,64,256] "
                 "[--seconds 10] [--write-percent 20] [--out F.jsonl]\n";
    return 2;
  }
  const std::string data = argv[1];
  std::string db, out_path, clients_list = "1,8,64,256";
  double seconds = 10;
  int write_percent = 20;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--db") db = argv[i + 1];
    if (a == "--clients") clients_list = argv[i + 1];
    if (a == "--seconds") seconds = std::stod(argv[i + 1]);
    if (a == "--out") out_path = argv[i + 1];
    if (a == "--write-percent") write_percent = std::stoi(argv[i + 1]);
  }
  ::signal(SIGPIPE, SIG_IGN);  // a server closing a connection must not end the run
  const char* bin = std::getenv("NODESPACE_BIN");
  if (db.empty() || bin == nullptr) {
    std::cerr << "need --db DIR and NODESPACE_BIN\n";
    return 2;
  }

  Workload w;
  for (const auto& q : ReadJsonl(data + "/queries_text.jsonl", 500)) w.texts.push_back(q["text"]);
  {
    std::ifstream in(data + "/queries_vec.f32", std::ios::binary);
    std::vector<float> v(384);
    while (w.vectors.size() < 200 && in.read(reinterpret_cast<char*>(v.data()), 384 * 4)) {
      w.vectors.push_back(v);
    }
  }
  {
    auto opened = nodespace::Database::Open(db);
    if (!opened.ok()) {
      std::cerr << opened.status().ToString() << "\n";
      return 1;
    }
    auto& d = **opened;
    const std::vector<nodespace::Node> roots = d.Roots().value();
    for (const auto& r : roots) {
      w.parents.push_back(r.id);
      const std::vector<nodespace::Node> children = d.Children(r.id).value();
      for (const auto& c : children) w.parents.push_back(c.id);
    }
    std::mt19937_64 rng(7);
    // The dataset's own ids are "0".."N-1" (meta.json); earlier runs' notes
    // are not among the reads.
    std::ifstream meta_in(data + "/meta.json");
    const int64_t count = json::parse(meta_in).value("nodes", int64_t{1});
    for (int i = 0; i < 2000; ++i) w.node_ids.push_back(std::to_string(rng() % count));
  }

  const std::string port_file = "/tmp/nodespace-load-bench.port";
  std::remove(port_file.c_str());
  const pid_t server = StartServer(bin, db, port_file);
  const int port = WaitForPort(port_file);
  if (server < 0 || port < 0) {
    std::cerr << "the server did not start\n";
    return 1;
  }

  // Warm up: the first vector query of a freshly imported database builds
  // its index; that is import work, not serving work.
  {
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(1800, 0);
    const auto t0 = Clock::now();
    http.Post("/v1/query", json({{"vector", w.vectors[0]}, {"limit", 10}}).dump(),
              "application/json");
    http.Post("/v1/query", json({{"text", w.texts[0]}, {"limit", 10}}).dump(), "application/json");
    std::printf("warm-up: %.1f s\n", Ms(t0, Clock::now()) / 1000);
  }

  FeedProbe probe;
  std::atomic<bool> stop_feed{false};
  std::thread feed([&] {
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(3600, 0);
    std::string buffer;
    http.Get(
        "/v1/changes", httplib::Headers{}, [&](const httplib::Response&) { return true; },
        [&](const char* d, size_t n) {
          const auto now = Clock::now();
          buffer.append(d, n);
          size_t end;
          while ((end = buffer.find("\n\n")) != std::string::npos) {
            const std::string event = buffer.substr(0, end);
            buffer.erase(0, end + 2);
            const size_t data_at = event.find("data: ");
            if (event.find("event: change") == std::string::npos || data_at == std::string::npos)
              continue;
            json j = json::parse(event.substr(data_at + 6), nullptr, false);
            if (j.is_object() && j.value("op", "") == "create")
              probe.Seen(j.value("node_id", ""), now);
          }
          return !stop_feed.load();
        });
  });

  std::vector<std::string> acknowledged;
  std::mutex ack_mu;
  std::vector<json> results;
  std::stringstream clients_in(clients_list);
  std::string item;
  std::printf(
      "| clients | ops/s | query p50 | query p99 | write p50 | write p99 | errors | feed p50 | "
      "feed p99 |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  while (std::getline(clients_in, item, ',')) {
    const int clients = std::stoi(item);
    Level l = RunLevel(port, clients, seconds, write_percent, w, probe, &acknowledged, &ack_mu);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the feed drain
    Latencies feed_ms = probe.Take();
    const double ops = (l.query.ms.size() + l.write.ms.size()) / l.seconds;
    std::printf("| %d | %.0f | %.2f | %.2f | %.2f | %.2f | %lld | %.2f | %.2f |\n", clients, ops,
                l.query.Pct(50), l.query.Pct(99), l.write.Pct(50), l.write.Pct(99),
                static_cast<long long>(l.errors), feed_ms.Pct(50), feed_ms.Pct(99));
    std::fflush(stdout);
    for (const auto& s : l.error_samples) std::printf("  error: %s\n", s.c_str());
    results.push_back({{"clients", clients},
                       {"write_percent", write_percent},
                       {"seconds", l.seconds},
                       {"ops_per_second", ops},
                       {"query", l.query.Json()},
                       {"write", l.write.Json()},
                       {"errors", l.errors},
                       {"write_to_notification", feed_ms.Json()}});
  }
  // The server's own view (commit to event written, group-commit sizes).
  {
    httplib::Client http("127.0.0.1", port);
    auto m = http.Get("/metrics");
    if (m) {
      std::istringstream lines(m->body);
      std::string line;
      while (std::getline(lines, line)) {
        const bool route_mean =
            (line.rfind("nodespace_http_request_duration_seconds_sum", 0) == 0 ||
             line.rfind("nodespace_http_request_duration_seconds_count", 0) == 0) &&
            (line.find("route=\"/v1/nodes\"") != std::string::npos ||
             line.find("route=\"/v1/query\"") != std::string::npos);
        if (route_mean || line.rfind("nodespace_feed_notification_seconds_sum", 0) == 0 ||
            line.rfind("nodespace_feed_notification_seconds_count", 0) == 0 ||
            line.rfind("nodespace_group_commit_operations_sum", 0) == 0 ||
            line.rfind("nodespace_group_commit_operations_count", 0) == 0 ||
            line.rfind("nodespace_group_commit_seconds_sum", 0) == 0) {
          std::printf("server: %s\n", line.c_str());
        }
      }
    }
  }
  stop_feed = true;
  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  feed.detach();

  // Every acknowledged write must be in the database.
  int64_t missing = 0;
  {
    auto opened = nodespace::Database::Open(db);
    for (const auto& id : acknowledged) missing += !(*opened)->Get(id).ok();
  }
  std::printf("acknowledged creates: %zu, missing after shutdown: %lld, server exit %d\n",
              acknowledged.size(), static_cast<long long>(missing),
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  if (!out_path.empty()) {
    std::ofstream out(out_path);
    for (auto& r : results) out << r.dump() << "\n";
    out << json({{"acknowledged_creates", acknowledged.size()}, {"missing", missing}}).dump()
        << "\n";
  }
  return missing == 0 ? 0 : 1;
}
