// nodespace_import_bench: the Foundation benchmark (import and cold open).
//
// Measures, in one run over one dataset (bench/README in /work/shared/bench
// describes the data):
//   read         std::getline over nodes.jsonl (also warms the page cache)
//   parse        simdjson ondemand parse of the fields the baseline stores
//   parse_emb    the same plus the 384-float embedding array
//   sqlite       baseline: raw SQLite inserts into a plain table (no index),
//                WAL + synchronous=FULL, one transaction per batch, one
//                prepared statement, JSON parsed exactly as in `parse`
//   sqlite_emb   the same with the embedding stored as a float32 blob
//   sqlite_idx   the plain-table baseline plus NodeSpace's indexes (id unique,
//                parent, type, created_at): what index maintenance costs
//   sqlite_schema  raw SQLite running the statements a create needs (id and
//                parent lookups, last sibling key, node row, change-log row)
//                on NodeSpace's own tables: the floor under NodeSpace's schema
//   sqlite_schema_emb  the same with the embedding blob
//   changes_1 / changes_64  raw SQLite inserting one change-log row per line
//                into NodeSpace's `changes` table, one row per INSERT and 64
//                rows per INSERT (what a bulk load's batch does), without
//                the nodes: what the change log alone costs
//   nodespace    io::ImportJsonl, with_embeddings=false, Durability::kFull
//   nodespace_emb      the same with embeddings
//   nodespace_bulk     nodespace with ImportOptions::bulk_load (full-text and
//                      secondary indexes built once at the end, included)
//   nodespace_bulk_emb the same with embeddings
//   nodespace_b<N>     nodespace with another batch size (--extra-batch-sizes)
//   cold open    a fresh process that runs Database::Open + Get(id), with the
//                page cache warm and (as root) after dropping it
// Each phase runs in a child process of its own. For each: seconds, rows/s,
// CPU time (all threads, and the calling thread's alone: in an import the
// thread that writes the rows), peak RSS of the phase (VmHWM of its process) and,
// for imports, the bytes on disk after the database is closed.
//
//   nodespace_import_bench --data /tmp/nsdata/100k --scratch /tmp/nsbench/100k
//       --out /tmp/nsbench/100k.json
// Options: --batch-size N (5000), --extra-batch-sizes N,M (none), --limit ROWS
// (first ROWS lines only), --phases a,b,... (default: all), --warm-runs N (5),
// --cold-runs N (3, needs root), --get-id ID (default: the middle row),
// --page-cache-mib N (SQLite page cache of the writing phases; default 64, as
// Options::page_cache_mib), --no-manager (NodeSpace phases without the
// scaling manager, which otherwise may split partitions or migrate phases in
// the middle of a large import).
//
// Child modes (used by the cold-open phase, usable by hand):
//   nodespace_import_bench --cold-open DB_DIR --get-id ID
//   nodespace_import_bench --cold-open-sqlite DB_FILE --get-id ID
#include <simdjson.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "io/jsonl_import.h"
#include "model/content.h"
#include "model/ids.h"
#include "model/order_key.h"
#include "nodespace/database.h"

#define NS_STRINGIFY_INNER(x) #x
#define NS_STRINGIFY(x) NS_STRINGIFY_INNER(x)

namespace {

namespace fs = std::filesystem;
using nodespace::bench::DiskBytes;
using nodespace::bench::LoadAvg1;
using nodespace::bench::ProcStatusKb;
namespace od = simdjson::ondemand;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// SQLite page cache per connection for every phase that writes (NodeSpace's
// Options::page_cache_mib and the baselines' cache_size); 64 is the default.
int g_page_cache_mib = nodespace::Options().page_cache_mib;
// --no-manager: NodeSpace phases run without the scaling manager.
bool g_no_manager = false;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "nodespace_import_bench: " << msg << std::endl;
  std::exit(1);
}

// ---- process measurements ---------------------------------------------------

// Resets VmHWM to the current RSS (Linux >= 4.0). Returns false if refused.
bool ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

struct CpuTimes {
  double user = 0, sys = 0;
};
CpuTimes Cpu(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return {static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6,
          static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6};
}
CpuTimes SelfCpu() {
  return Cpu(RUSAGE_SELF);
}
// The calling thread's alone: in an import, the thread that writes the rows
// (the parser and the text build have threads of their own).
CpuTimes ThreadCpu() {
  return Cpu(RUSAGE_THREAD);
}

std::string ReadFirstLine(const std::string& file) {
  std::ifstream f(file);
  std::string s;
  std::getline(f, s);
  return s;
}

// ---- parsing (the same simdjson ondemand approach as io::ImportJsonl) --------

struct Row {
  std::string id, parent_id, node_type, content, properties;
  int64_t created_at = 0;
  std::vector<float> embedding;
  void Clear() {
    id.clear();
    parent_id.clear();
    node_type = "text";
    content.clear();
    properties = "{}";
    created_at = 0;
    embedding.clear();
  }
};

// Parses `buf` (one JSONL line) into `row`; returns "" or an error.
std::string ParseRow(od::parser& parser, std::string& buf, bool with_embeddings, int64_t now,
                     Row* row) {
  row->Clear();
  row->created_at = now;
  const size_t len = buf.size();
  buf.reserve(len + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (parser.iterate(simdjson::padded_string_view(buf.data(), len, buf.capacity())).get(doc)) {
    return "malformed JSON";
  }
  od::object obj;
  if (doc.get_object().get(obj)) return "expected an object";
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return "malformed JSON";
    od::value v;
    if (field.value().get(v)) return "malformed JSON";
    od::json_type type;
    if (v.type().get(type)) return "malformed JSON";
    auto get_id = [&](std::string* out) -> bool {
      if (type == od::json_type::null) return true;
      if (type == od::json_type::number) {
        int64_t i;
        if (v.get_int64().get(i)) return false;
        *out = std::to_string(i);
        return true;
      }
      std::string_view s;
      if (v.get_string().get(s)) return false;
      out->assign(s);
      return true;
    };
    auto get_string = [&](std::string* out) -> bool {
      std::string_view s;
      if (v.get_string().get(s)) return false;
      out->assign(s);
      return true;
    };
    if (key == "id") {
      if (!get_id(&row->id)) return "bad id";
    } else if (key == "parent_id") {
      if (!get_id(&row->parent_id)) return "bad parent_id";
    } else if (key == "node_type") {
      if (!get_string(&row->node_type)) return "bad node_type";
    } else if (key == "content") {
      if (!get_string(&row->content)) return "bad content";
    } else if (key == "properties") {
      if (type == od::json_type::null) continue;
      od::object props;
      std::string_view raw;
      if (v.get_object().get(props) || simdjson::to_json_string(props).get(raw)) {
        return "bad properties";
      }
      row->properties.assign(raw);
    } else if (key == "created_at") {
      if (type == od::json_type::number) {
        if (v.get_int64().get(row->created_at)) return "bad created_at";
      } else {
        std::string_view s;
        if (v.get_string().get(s) || !nodespace::ids::ParseTimestamp(s, &row->created_at)) {
          return "bad created_at";
        }
      }
    } else if (key == "embedding") {
      if (!with_embeddings || type == od::json_type::null) continue;
      od::array arr;
      if (v.get_array().get(arr)) return "bad embedding";
      for (auto elem : arr) {
        double d;
        if (elem.get_double().get(d)) return "bad embedding";
        row->embedding.push_back(static_cast<float>(d));
      }
    }
  }
  if (row->id.empty()) return "id: required";
  return "";
}

// ---- phases -------------------------------------------------------------------

struct PhaseResult {
  std::string name;
  std::string what;
  uint64_t rows = 0;
  uint64_t errors = 0;
  size_t batch_size = 0;
  bool embeddings = false;
  double open_seconds = 0;
  double seconds = 0;  // the import (or pass) itself
  double close_seconds = 0;
  double cpu_user = 0, cpu_sys = 0;
  double caller_cpu = 0;  // the phase's calling thread (user + system)
  int64_t peak_rss_kb = -1;
  int64_t disk_bytes = -1;
  double load_before = -1, load_after = -1;

  double rate() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }

  Json ToJson() const {
    Json j;
    j["name"] = name;
    j["what"] = what;
    j["rows"] = rows;
    j["errors"] = errors;
    if (batch_size) j["batch_size"] = batch_size;
    j["embeddings"] = embeddings;
    j["seconds"] = seconds;
    j["rows_per_second"] = rate();
    if (open_seconds > 0) j["open_seconds"] = open_seconds;
    if (close_seconds > 0) j["close_seconds"] = close_seconds;
    j["cpu_user_seconds"] = cpu_user;
    j["cpu_sys_seconds"] = cpu_sys;
    j["caller_thread_cpu_seconds"] = caller_cpu;
    j["peak_rss_kb"] = peak_rss_kb;
    if (disk_bytes >= 0) j["disk_bytes"] = disk_bytes;
    j["loadavg_before"] = load_before;
    j["loadavg_after"] = load_after;
    return j;
  }
};

PhaseResult FromJson(const Json& j) {
  PhaseResult r;
  r.name = j.at("name").get<std::string>();
  r.what = j.at("what").get<std::string>();
  r.rows = j.at("rows").get<uint64_t>();
  r.errors = j.at("errors").get<uint64_t>();
  r.batch_size = j.value("batch_size", size_t{0});
  r.embeddings = j.at("embeddings").get<bool>();
  r.seconds = j.at("seconds").get<double>();
  r.open_seconds = j.value("open_seconds", 0.0);
  r.close_seconds = j.value("close_seconds", 0.0);
  r.cpu_user = j.at("cpu_user_seconds").get<double>();
  r.cpu_sys = j.at("cpu_sys_seconds").get<double>();
  r.caller_cpu = j.value("caller_thread_cpu_seconds", 0.0);
  r.peak_rss_kb = j.at("peak_rss_kb").get<int64_t>();
  r.disk_bytes = j.value("disk_bytes", int64_t{-1});
  r.load_before = j.at("loadavg_before").get<double>();
  r.load_after = j.at("loadavg_after").get<double>();
  return r;
}

PhaseResult MeasureHere(const std::string& name, const std::string& what,
                        const std::function<void(PhaseResult&)>& fn);

// Runs `fn` as one phase in a child process of its own, so that its peak RSS
// is its own (not memory the allocator kept from an earlier phase), and
// records CPU time, peak RSS and the load average around it.
PhaseResult Measure(const std::string& name, const std::string& what,
                    const std::function<void(PhaseResult&)>& fn) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    close(fds[0]);
    const std::string out = MeasureHere(name, what, fn).ToJson().dump();
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(3);
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
    std::cerr.flush();
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("phase " + name + " failed");
  return FromJson(Json::parse(out));
}

PhaseResult MeasureHere(const std::string& name, const std::string& what,
                        const std::function<void(PhaseResult&)>& fn) {
  std::cerr << "[" << name << "] " << what << " ..." << std::endl;
  PhaseResult r;
  r.name = name;
  r.what = what;
  const bool reset = ResetPeakRss();
  r.load_before = LoadAvg1();
  const CpuTimes c0 = SelfCpu();
  const CpuTimes t0 = ThreadCpu();
  fn(r);
  const CpuTimes t1 = ThreadCpu();
  const CpuTimes c1 = SelfCpu();
  r.cpu_user = c1.user - c0.user;
  r.cpu_sys = c1.sys - c0.sys;
  r.caller_cpu = (t1.user - t0.user) + (t1.sys - t0.sys);
  r.load_after = LoadAvg1();
  r.peak_rss_kb = reset ? ProcStatusKb("VmHWM") : -1;
  std::cerr << "[" << name << "] " << r.rows << " rows in " << r.seconds
            << " s = " << static_cast<int64_t>(r.rate()) << " rows/s, peak RSS "
            << r.peak_rss_kb / 1024 << " MiB" << std::endl;
  return r;
}

void ReadPass(const std::string& file, PhaseResult& r) {
  std::ifstream in(file);
  if (!in) Die("cannot read " + file);
  std::string line;
  uint64_t bytes = 0;
  const auto t0 = Clock::now();
  while (std::getline(in, line)) {
    bytes += line.size();
    ++r.rows;
  }
  r.seconds = Seconds(t0, Clock::now());
  if (bytes == 0) Die(file + " is empty");
}

void ParsePass(const std::string& file, bool with_embeddings, PhaseResult& r) {
  std::ifstream in(file);
  std::string line;
  od::parser parser;
  Row row;
  uint64_t checksum = 0;
  const int64_t now = nodespace::ids::NowMs();
  const auto t0 = Clock::now();
  while (std::getline(in, line)) {
    if (!ParseRow(parser, line, with_embeddings, now, &row).empty()) {
      ++r.errors;
      continue;
    }
    checksum += row.content.size() + row.properties.size() + row.embedding.size();
    ++r.rows;
  }
  r.seconds = Seconds(t0, Clock::now());
  r.embeddings = with_embeddings;
  if (checksum == 0) Die("parsed nothing from " + file);
}

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Die(std::string("sqlite ") + what + ": " + sqlite3_errmsg(db));
  }
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    Die(std::string("sqlite exec '") + sql + "': " + msg);
  }
}

// The baseline: a plain table, the same durability settings and page cache as
// a NodeSpace writer connection, one prepared INSERT, a COMMIT every batch.
void SqlitePass(const std::string& file, const fs::path& dir, bool with_embeddings,
                bool with_indexes, size_t batch_size, PhaseResult& r) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db_file = (dir / "baseline.db").string();
  const auto t_open = Clock::now();
  sqlite3* db = nullptr;
  Check(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        db, "open");
  Exec(db, "PRAGMA journal_mode = WAL");
  Exec(db, "PRAGMA synchronous = FULL");
  Exec(db, ("PRAGMA cache_size = -" + std::to_string(g_page_cache_mib * 1024)).c_str());
  Exec(db, "PRAGMA temp_store = MEMORY");
  Exec(db,
       "CREATE TABLE nodes(id TEXT NOT NULL, parent_id TEXT NOT NULL, node_type TEXT NOT NULL, "
       "content TEXT NOT NULL, properties TEXT NOT NULL, created_at INTEGER NOT NULL, "
       "embedding BLOB)");
  if (with_indexes) {
    Exec(db,
         "CREATE UNIQUE INDEX nodes_by_id ON nodes(id);"
         "CREATE INDEX nodes_by_parent ON nodes(parent_id);"
         "CREATE INDEX nodes_by_type ON nodes(node_type);"
         "CREATE INDEX nodes_by_created ON nodes(created_at);");
  }
  sqlite3_stmt* ins = nullptr;
  Check(sqlite3_prepare_v3(db,
                           "INSERT INTO nodes(id, parent_id, node_type, content, properties, "
                           "created_at, embedding) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           -1, SQLITE_PREPARE_PERSISTENT, &ins, nullptr),
        db, "prepare");
  r.open_seconds = Seconds(t_open, Clock::now());

  std::ifstream in(file);
  std::string line;
  od::parser parser;
  Row row;
  size_t in_txn = 0;
  const int64_t now = nodespace::ids::NowMs();
  const auto t0 = Clock::now();
  while (std::getline(in, line)) {
    if (!ParseRow(parser, line, with_embeddings, now, &row).empty()) {
      ++r.errors;
      continue;
    }
    if (in_txn == 0) Exec(db, "BEGIN IMMEDIATE");
    auto bind_text = [&](int i, const std::string& s) {
      sqlite3_bind_text(ins, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    };
    bind_text(1, row.id);
    bind_text(2, row.parent_id);
    bind_text(3, row.node_type);
    bind_text(4, row.content);
    bind_text(5, row.properties);
    sqlite3_bind_int64(ins, 6, row.created_at);
    if (row.embedding.empty()) {
      sqlite3_bind_null(ins, 7);
    } else {
      sqlite3_bind_blob(ins, 7, row.embedding.data(),
                        static_cast<int>(row.embedding.size() * sizeof(float)), SQLITE_STATIC);
    }
    Check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
    ++r.rows;
    if (++in_txn == batch_size) {
      Exec(db, "COMMIT");
      in_txn = 0;
    }
  }
  if (in_txn > 0) Exec(db, "COMMIT");
  r.seconds = Seconds(t0, Clock::now());
  const auto t_close = Clock::now();
  sqlite3_finalize(ins);
  Check(sqlite3_close(db), nullptr, "close");
  r.close_seconds = Seconds(t_close, Clock::now());
  r.disk_bytes = DiskBytes(dir);
  r.embeddings = with_embeddings;
  r.batch_size = batch_size;
}

// One change-log row per line of `file` (ids made up, payloads shaped as a
// create's), `rows_per_insert` rows to an INSERT, committed every
// `batch_size` rows, into the `changes` table Database::Open creates.
void ChangeRowsPass(const std::string& file, const fs::path& dir, size_t rows_per_insert,
                    size_t batch_size, PhaseResult& r) {
  uint64_t lines = 0;
  {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) ++lines;
  }
  fs::remove_all(dir);
  {
    auto created = nodespace::Database::Open(dir.string());
    if (!created.ok()) Die("create " + dir.string() + ": " + created.status().ToString());
  }
  const std::string db_file = (dir / "nodespace.db").string();
  sqlite3* db = nullptr;
  Check(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), db, "open");
  Exec(db, "PRAGMA journal_mode = WAL");
  Exec(db, "PRAGMA synchronous = FULL");
  auto prepare = [&](size_t rows) {
    std::string sql = "INSERT INTO changes(ts, op, node_id, version, origin, payload) VALUES ";
    for (size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,1,?,1,'',?)" : ",(?,1,?,1,'',?)";
    sqlite3_stmt* stmt = nullptr;
    Check(sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr), db,
          "prepare");
    return stmt;
  };
  sqlite3_stmt* full = prepare(rows_per_insert);
  std::vector<std::string> ids(rows_per_insert), payloads(rows_per_insert);
  const int64_t now = nodespace::ids::NowMs();
  const auto t0 = Clock::now();
  uint64_t done = 0;
  while (done < lines) {
    Exec(db, "BEGIN IMMEDIATE");
    const uint64_t txn_end = std::min<uint64_t>(lines, done + batch_size);
    while (done < txn_end) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(rows_per_insert, txn_end - done));
      sqlite3_stmt* stmt = n == rows_per_insert ? full : prepare(n);
      for (size_t k = 0; k < n; ++k) {
        ids[k] = std::to_string(done + k);
        payloads[k] = "{\"order_key\":\"a" + std::to_string(k) + "\",\"parent_id\":\"" +
                      std::to_string((done + k) / 7) + "\"}";
        const int p = static_cast<int>(k * 3);
        sqlite3_bind_int64(stmt, p + 1, now);
        sqlite3_bind_text(stmt, p + 2, ids[k].data(), static_cast<int>(ids[k].size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(stmt, p + 3, payloads[k].data(), static_cast<int>(payloads[k].size()),
                          SQLITE_STATIC);
      }
      Check(sqlite3_step(stmt), db, "insert change");
      sqlite3_reset(stmt);
      if (stmt != full) sqlite3_finalize(stmt);
      done += n;
      r.rows += n;
    }
    Exec(db, "COMMIT");
  }
  r.seconds = Seconds(t0, Clock::now());
  sqlite3_finalize(full);
  Check(sqlite3_close(db), nullptr, "close");
  r.disk_bytes = DiskBytes(dir);
  r.batch_size = batch_size;
}

// The floor under NodeSpace's own schema: raw SQLite running the statements
// a create needs (id and parent lookups, the last sibling key, the node row,
// the change-log row) on the tables and indexes Database::Open creates, with
// SQLITE_STATIC binds and no per-node savepoint, validation or C++ objects.
void SqliteSchemaPass(const std::string& file, const fs::path& dir, bool with_embeddings,
                      size_t batch_size, PhaseResult& r) {
  fs::remove_all(dir);
  {
    auto created = nodespace::Database::Open(dir.string());
    if (!created.ok()) Die("create " + dir.string() + ": " + created.status().ToString());
  }
  const std::string db_file = (dir / "nodespace.db").string();
  const auto t_open = Clock::now();
  sqlite3* db = nullptr;
  Check(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), db, "open");
  Exec(db, "PRAGMA journal_mode = WAL");
  Exec(db, "PRAGMA synchronous = FULL");
  Exec(db, ("PRAGMA cache_size = -" + std::to_string(g_page_cache_mib * 1024)).c_str());
  Exec(db, "PRAGMA temp_store = MEMORY");
  auto prepare = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    Check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr), db, sql);
    return stmt;
  };
  sqlite3_stmt* exists = prepare("SELECT 1 FROM nodes WHERE id = ?1");
  sqlite3_stmt* last_key =
      prepare("SELECT order_key FROM nodes WHERE parent_id = ?1 ORDER BY order_key DESC LIMIT 1");
  sqlite3_stmt* ins = prepare(
      "INSERT INTO nodes(id, parent_id, order_key, node_type, content, title, properties, "
      "lifecycle, version, created_at, modified_at, embedding) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 1, ?8, ?8, ?9)");
  sqlite3_stmt* log = prepare(
      "INSERT INTO changes(ts, op, node_id, version, origin, payload) "
      "VALUES(?1, 1, ?2, 1, '', ?3)");
  r.open_seconds = Seconds(t_open, Clock::now());
  auto text = [](sqlite3_stmt* st, int i, const std::string& v) {
    sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  };
  auto found = [&](const std::string& id) {
    text(exists, 1, id);
    const bool row = sqlite3_step(exists) == SQLITE_ROW;
    sqlite3_reset(exists);
    return row;
  };

  std::ifstream in(file);
  std::string line, key, title, payload;
  od::parser parser;
  Row row;
  size_t in_txn = 0;
  const int64_t now = nodespace::ids::NowMs();
  const auto t0 = Clock::now();
  while (std::getline(in, line)) {
    if (!ParseRow(parser, line, with_embeddings, now, &row).empty()) {
      ++r.errors;
      continue;
    }
    if (in_txn == 0) Exec(db, "BEGIN IMMEDIATE");
    if (found(row.id) || (!row.parent_id.empty() && !found(row.parent_id))) {
      ++r.errors;
      continue;
    }
    text(last_key, 1, row.parent_id);
    std::string last;
    if (sqlite3_step(last_key) == SQLITE_ROW) {
      last = reinterpret_cast<const char*>(sqlite3_column_text(last_key, 0));
    }
    sqlite3_reset(last_key);
    key = nodespace::order_key::Between(last, "").value();
    title = row.parent_id.empty() ? nodespace::content::DeriveTitle(row.content) : "";
    text(ins, 1, row.id);
    text(ins, 2, row.parent_id);
    text(ins, 3, key);
    text(ins, 4, row.node_type);
    text(ins, 5, row.content);
    text(ins, 6, title);
    text(ins, 7, row.properties);
    sqlite3_bind_int64(ins, 8, row.created_at);
    if (row.embedding.empty()) {
      sqlite3_bind_null(ins, 9);
    } else {
      sqlite3_bind_blob(ins, 9, row.embedding.data(),
                        static_cast<int>(row.embedding.size() * sizeof(float)), SQLITE_STATIC);
    }
    Check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
    payload = "{\"order_key\":\"" + key + "\",\"parent_id\":\"" + row.parent_id + "\"}";
    sqlite3_bind_int64(log, 1, now);
    text(log, 2, row.id);
    text(log, 3, payload);
    Check(sqlite3_step(log), db, "insert change");
    sqlite3_reset(log);
    ++r.rows;
    if (++in_txn == batch_size) {
      Exec(db, "COMMIT");
      in_txn = 0;
    }
  }
  if (in_txn > 0) Exec(db, "COMMIT");
  r.seconds = Seconds(t0, Clock::now());
  const auto t_close = Clock::now();
  for (sqlite3_stmt* st : {exists, last_key, ins, log}) sqlite3_finalize(st);
  Check(sqlite3_close(db), nullptr, "close");
  r.close_seconds = Seconds(t_close, Clock::now());
  r.disk_bytes = DiskBytes(dir);
  r.batch_size = batch_size;
  r.embeddings = with_embeddings;
}

void NodeSpacePass(const std::string& file, const fs::path& dir, bool with_embeddings,
                   size_t batch_size, PhaseResult& r, bool bulk_load = false) {
  fs::remove_all(dir);
  const auto t_open = Clock::now();
  nodespace::Options options;
  options.durability = nodespace::Durability::kFull;
  options.page_cache_mib = g_page_cache_mib;
  // Import throughput alone: the scaling manager would split partitions and
  // migrate phases (with a backup) in the middle of a 1M import.
  options.scaling.enabled = !g_no_manager;
  auto opened = nodespace::Database::Open(dir.string(), options);
  if (!opened.ok()) Die("open " + dir.string() + ": " + opened.status().ToString());
  std::unique_ptr<nodespace::Database> db = std::move(opened).value();
  r.open_seconds = Seconds(t_open, Clock::now());

  std::ifstream in(file);
  if (!in) Die("cannot read " + file);

  nodespace::io::ImportOptions io;
  io.batch_size = batch_size;
  io.with_embeddings = with_embeddings;
  io.source_name = file;
  io.bulk_load = bulk_load;
  nodespace::io::ImportCallbacks cb;
  uint64_t first_errors = 0;
  cb.on_error = [&](const std::string& msg) {
    if (first_errors++ < 5) std::cerr << "  import error: " << msg << std::endl;
  };
  uint64_t next_report = 100000;
  cb.on_commit = [&](uint64_t, uint64_t last_line, uint64_t, int64_t) {
    if (last_line >= next_report) {
      std::cerr << "  ... " << last_line << " lines" << std::endl;
      next_report += 100000;
    }
  };
  const auto t0 = Clock::now();
  auto summary = nodespace::io::ImportJsonl(*db, in, io, cb);
  r.seconds = Seconds(t0, Clock::now());
  if (!summary.ok()) Die("import failed: " + summary.status().ToString());
  r.rows = summary->nodes;
  r.errors = summary->errors;
  const auto t_close = Clock::now();
  db.reset();
  r.close_seconds = Seconds(t_close, Clock::now());
  r.disk_bytes = DiskBytes(dir);
  r.embeddings = with_embeddings;
  r.batch_size = batch_size;
}

// ---- cold open ----------------------------------------------------------------

int ColdOpenMain(const std::string& dir, const std::string& id) {
  const auto t0 = Clock::now();
  auto db = nodespace::Database::Open(dir);
  const auto t1 = Clock::now();
  if (!db.ok()) {
    std::cout << Json{{"ok", false}, {"error", db.status().ToString()}}.dump() << std::endl;
    return 1;
  }
  auto node = (*db)->Get(id);
  const auto t2 = Clock::now();
  Json j{{"ok", node.ok()},
         {"open_ms", Seconds(t0, t1) * 1e3},
         {"get_ms", Seconds(t1, t2) * 1e3},
         {"open_get_ms", Seconds(t0, t2) * 1e3}};
  if (node.ok()) {
    j["content_bytes"] = node->content.size();
    j["embedding_dims"] = node->embedding.size();
  } else {
    j["error"] = node.status().ToString();
  }
  std::cout << j.dump() << std::endl;
  return node.ok() ? 0 : 1;
}

int ColdOpenSqliteMain(const std::string& file, const std::string& id) {
  const auto t0 = Clock::now();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  const auto t1 = Clock::now();
  sqlite3_stmt* stmt = nullptr;
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db, "SELECT * FROM nodes WHERE id = ?1", -1, &stmt, nullptr);
  }
  bool found = false;
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    found = sqlite3_step(stmt) == SQLITE_ROW;
  }
  const auto t2 = Clock::now();
  std::cout << Json{{"ok", found},
                    {"open_ms", Seconds(t0, t1) * 1e3},
                    {"get_ms", Seconds(t1, t2) * 1e3},
                    {"open_get_ms", Seconds(t0, t2) * 1e3}}
                   .dump()
            << std::endl;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return found ? 0 : 1;
}

bool DropCaches() {
  if (geteuid() != 0) return false;
  sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  f << "3";
  f.flush();
  return static_cast<bool>(f);
}

// Runs this binary in `mode` in a fresh process; returns its JSON plus the
// wall time of the whole process (fork to exit) as "process_ms".
Json SpawnColdOpen(const std::string& mode, const std::string& target, const std::string& id) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl("/proc/self/exe", "nodespace_import_bench", mode.c_str(), target.c_str(), "--get-id",
          id.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const double process_ms = Seconds(t0, Clock::now()) * 1e3;
  Json j = Json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) j = Json{{"ok", false}, {"output", out}};
  j["process_ms"] = process_ms;
  j["exit_status"] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return j;
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Runs `runs` cold opens; `drop` empties the OS page cache before each one.
Json ColdOpenSeries(const std::string& mode, const std::string& target, const std::string& id,
                    int runs, bool drop) {
  Json series = Json::array();
  std::vector<double> open_get, process;
  for (int i = 0; i < runs; ++i) {
    if (drop && !DropCaches()) return Json{{"skipped", "dropping the page cache needs root"}};
    Json j = SpawnColdOpen(mode, target, id);
    if (j.value("ok", false)) {
      open_get.push_back(j["open_get_ms"].get<double>());
      process.push_back(j["process_ms"].get<double>());
    }
    series.push_back(j);
  }
  return Json{{"runs", series},
              {"median_open_get_ms", Median(open_get)},
              {"median_process_ms", Median(process)},
              {"max_open_get_ms",
               open_get.empty() ? -1.0 : *std::max_element(open_get.begin(), open_get.end())}};
}

// ---- report -------------------------------------------------------------------

Json MachineInfo() {
  Json j;
  utsname u{};
  if (uname(&u) == 0) j["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  j["cpus_online"] = sysconf(_SC_NPROCESSORS_ONLN);
  std::ifstream mem("/proc/meminfo");
  std::string line;
  if (std::getline(mem, line)) j["meminfo"] = line;
  std::ifstream cpu("/proc/cpuinfo");
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      j["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  j["debian_version"] = ReadFirstLine("/etc/debian_version");
  j["compiler"] = __VERSION__;
  j["sqlite_version"] = sqlite3_libversion();
  // ondemand (stage 2) is compiled into each translation unit for the
  // kernel its compiler flags allow; stage 1 dispatches at run time.
  j["simdjson_ondemand_kernel"] = NS_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
  j["simdjson_library_builtin"] = simdjson::builtin_implementation()->name();
  j["simdjson_active_implementation"] = simdjson::get_active_implementation()->name();
  return j;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Thousands(double v) {
  const std::string digits = std::to_string(static_cast<int64_t>(v + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Args {
  std::string data, scratch, out;
  size_t batch_size = 5000;
  std::vector<size_t> extra_batch_sizes;
  uint64_t limit = 0;
  std::vector<std::string> phases;  // empty: all
  int warm_runs = 5, cold_runs = 3;
  std::string get_id;
  bool Wants(const std::string& p) const {
    return phases.empty() || std::find(phases.begin(), phases.end(), p) != phases.end();
  }
};

int BenchMain(const Args& a) {
  std::string file = (fs::path(a.data) / "nodes.jsonl").string();
  if (!fs::exists(file)) Die(file + " does not exist");
  fs::create_directories(a.scratch);
  const fs::path scratch(a.scratch);
  if (a.limit > 0) {  // every phase reads the same truncated copy
    const std::string head =
        (scratch / ("nodes.head" + std::to_string(a.limit) + ".jsonl")).string();
    std::ifstream in(file);
    std::ofstream out(head);
    std::string line;
    for (uint64_t i = 0; i < a.limit && std::getline(in, line); ++i) out << line << '\n';
    if (!out) Die("cannot write " + head);
    file = head;
  }

  Json report;
  report["benchmark"] = "foundation_import";
  report["dataset"] = a.data;
  report["input"] = file;
  report["input_bytes"] = static_cast<int64_t>(fs::file_size(file));
  report["limit"] = a.limit;
  report["batch_size"] = a.batch_size;
  report["page_cache_mib"] = g_page_cache_mib;
  report["scaling_manager"] = !g_no_manager;
  report["machine"] = MachineInfo();
  std::cerr << "simdjson ondemand kernel (compile time): "
            << report["machine"]["simdjson_ondemand_kernel"].get<std::string>()
            << ", stage 1 (run time): "
            << report["machine"]["simdjson_active_implementation"].get<std::string>() << std::endl;

  std::vector<PhaseResult> results;
  auto find = [&](const std::string& name) -> const PhaseResult* {
    for (const auto& r : results) {
      if (r.name == name) return &r;
    }
    return nullptr;
  };
  const size_t bs = a.batch_size;

  // The read pass always runs: it warms the page cache for the others.
  results.push_back(Measure("read", "std::getline only (warms the page cache)",
                            [&](PhaseResult& r) { ReadPass(file, r); }));
  const uint64_t rows = results.back().rows;
  if (a.Wants("parse")) {
    results.push_back(Measure("parse", "simdjson ondemand, no embeddings",
                              [&](PhaseResult& r) { ParsePass(file, false, r); }));
  }
  if (a.Wants("parse_emb")) {
    results.push_back(Measure("parse_emb", "simdjson ondemand, with embeddings",
                              [&](PhaseResult& r) { ParsePass(file, true, r); }));
  }
  if (a.Wants("sqlite")) {
    results.push_back(Measure("sqlite", "raw SQLite, plain table, no embeddings", [&](auto& r) {
      SqlitePass(file, scratch / "sqlite", false, false, bs, r);
    }));
  }
  if (a.Wants("sqlite_emb")) {
    results.push_back(
        Measure("sqlite_emb", "raw SQLite, plain table, embedding blob",
                [&](auto& r) { SqlitePass(file, scratch / "sqlite_emb", true, false, bs, r); }));
  }
  if (a.Wants("sqlite_idx")) {
    results.push_back(
        Measure("sqlite_idx", "raw SQLite + NodeSpace's 4 indexes, no embeddings",
                [&](auto& r) { SqlitePass(file, scratch / "sqlite_idx", false, true, bs, r); }));
  }
  if (a.Wants("sqlite_schema")) {
    results.push_back(
        Measure("sqlite_schema", "raw SQLite, NodeSpace's schema and per-node statements",
                [&](auto& r) { SqliteSchemaPass(file, scratch / "sqlite_schema", false, bs, r); }));
  }
  if (a.Wants("sqlite_schema_emb")) {
    results.push_back(Measure(
        "sqlite_schema_emb", "sqlite_schema plus the embedding blob",
        [&](auto& r) { SqliteSchemaPass(file, scratch / "sqlite_schema_emb", true, bs, r); }));
  }
  for (const size_t per : {size_t{1}, size_t{64}}) {
    const std::string name = "changes_" + std::to_string(per);
    if (!a.Wants(name)) continue;
    results.push_back(
        Measure(name, "raw SQLite, change-log rows only, " + std::to_string(per) + " per INSERT",
                [&](auto& r) { ChangeRowsPass(file, scratch / name, per, bs, r); }));
  }
  if (a.Wants("nodespace")) {
    results.push_back(Measure("nodespace", "io::ImportJsonl, with_embeddings=false", [&](auto& r) {
      NodeSpacePass(file, scratch / "nodespace", false, bs, r);
    }));
  }
  if (a.Wants("nodespace_emb")) {
    results.push_back(Measure("nodespace_emb", "io::ImportJsonl, with embeddings", [&](auto& r) {
      NodeSpacePass(file, scratch / "nodespace_emb", true, bs, r);
    }));
  }
  if (a.Wants("nodespace_bulk")) {
    results.push_back(Measure(
        "nodespace_bulk", "io::ImportJsonl, bulk_load=true, with_embeddings=false",
        [&](auto& r) { NodeSpacePass(file, scratch / "nodespace_bulk", false, bs, r, true); }));
  }
  if (a.Wants("nodespace_bulk_emb")) {
    results.push_back(Measure(
        "nodespace_bulk_emb", "io::ImportJsonl, bulk_load=true, with embeddings",
        [&](auto& r) { NodeSpacePass(file, scratch / "nodespace_bulk_emb", true, bs, r, true); }));
  }
  for (size_t extra : a.extra_batch_sizes) {
    const std::string name = "nodespace_b" + std::to_string(extra);
    if (!a.Wants(name) && !a.Wants("nodespace_batches")) continue;
    results.push_back(
        Measure(name, "io::ImportJsonl, no embeddings, batch " + std::to_string(extra),
                [&](auto& r) { NodeSpacePass(file, scratch / name, false, extra, r); }));
    fs::remove_all(scratch / name);  // only its numbers are needed
  }

  Json phases = Json::array();
  for (const auto& r : results) phases.push_back(r.ToJson());
  report["phases"] = phases;

  // Ratios NodeSpace / baseline (time: > 1 means NodeSpace is slower).
  Json ratios;
  auto ratio = [&](const char* ns, const char* base) {
    const PhaseResult* n = find(ns);
    const PhaseResult* b = find(base);
    if (!n || !b || n->seconds <= 0 || b->seconds <= 0) return;
    ratios[std::string(ns) + "/" + base] = {
        {"time_ratio", n->seconds / b->seconds},
        {"rate_ratio", n->rate() / b->rate()},
        {"disk_ratio",
         b->disk_bytes > 0 ? static_cast<double>(n->disk_bytes) / b->disk_bytes : 0.0}};
  };
  ratio("nodespace", "sqlite");
  ratio("nodespace", "sqlite_idx");
  ratio("nodespace", "sqlite_schema");
  ratio("nodespace_bulk", "sqlite");
  ratio("nodespace_bulk", "sqlite_schema");
  ratio("nodespace_bulk", "nodespace");
  ratio("nodespace_bulk_emb", "sqlite_emb");
  ratio("nodespace_emb", "sqlite_emb");
  ratio("nodespace_emb", "sqlite_schema_emb");
  report["ratios"] = ratios;

  // Cold open + first Get, in fresh processes.
  std::string get_id = a.get_id.empty() ? std::to_string(rows / 2) : a.get_id;
  Json cold;
  cold["get_id"] = get_id;
  cold["page_cache_drop_available"] = geteuid() == 0;
  auto series = [&](const std::string& key, const std::string& mode, const fs::path& target) {
    if (!fs::exists(target)) return;
    std::cerr << "[cold_open] " << key << " (" << target.string() << ")" << std::endl;
    Json entry;
    entry["target"] = target.string();
    entry["warm"] = ColdOpenSeries(mode, target.string(), get_id, a.warm_runs, false);
    entry["cold"] = a.cold_runs > 0
                        ? ColdOpenSeries(mode, target.string(), get_id, a.cold_runs, true)
                        : Json{{"skipped", "--cold-runs 0"}};
    cold[key] = entry;
  };
  if (a.Wants("cold_open")) {
    series("nodespace_emb", "--cold-open", scratch / "nodespace_emb");
    series("nodespace", "--cold-open", scratch / "nodespace");
    series("sqlite_idx", "--cold-open-sqlite", scratch / "sqlite_idx" / "baseline.db");
  }
  report["cold_open"] = cold;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  report["parent_process_peak_rss_kb"] = ru.ru_maxrss;

  // Human-readable table.
  std::cout << "\nFoundation benchmark: " << a.data << " (" << Thousands(rows) << " rows, "
            << Thousands(report["input_bytes"].get<double>() / 1048576.0) << " MiB of JSONL)\n";
  std::cout << "simdjson ondemand: " << report["machine"]["simdjson_ondemand_kernel"]
            << ", stage 1: " << report["machine"]["simdjson_active_implementation"] << "\n\n";
  std::printf("%-20s %10s %10s %12s %9s %10s %9s %10s %12s\n", "phase", "rows", "seconds", "rows/s",
              "cpu s", "caller s", "close s", "peak MiB", "disk MiB");
  for (const auto& r : results) {
    std::printf("%-20s %10s %10.2f %12s %9.2f %10.2f %9.2f %10s %12s\n", r.name.c_str(),
                Thousands(static_cast<double>(r.rows)).c_str(), r.seconds,
                Thousands(r.rate()).c_str(), r.cpu_user + r.cpu_sys, r.caller_cpu, r.close_seconds,
                r.peak_rss_kb >= 0 ? Thousands(r.peak_rss_kb / 1024.0).c_str() : "-",
                r.disk_bytes >= 0 ? Fmt("%.1f", r.disk_bytes / 1048576.0).c_str() : "-");
  }
  std::cout << "\nNodeSpace / baseline\n";
  for (const auto& [k, v] : ratios.items()) {
    std::printf("  %-34s time x%.2f   rate x%.2f   disk x%.2f\n", k.c_str(),
                v["time_ratio"].get<double>(), v["rate_ratio"].get<double>(),
                v["disk_ratio"].get<double>());
  }
  std::cout << "\nCold open + first Get(\"" << get_id << "\") in a fresh process, median ms\n";
  for (const auto& [k, v] : cold.items()) {
    if (!v.is_object() || !v.contains("warm")) continue;
    auto line = [&](const char* label, const Json& s) {
      if (s.contains("skipped")) {
        std::printf("  %-14s %-5s skipped: %s\n", k.c_str(), label,
                    s["skipped"].get<std::string>().c_str());
        return;
      }
      std::printf("  %-14s %-5s open+get %8.2f ms (max %8.2f)   whole process %8.2f ms\n",
                  k.c_str(), label, s["median_open_get_ms"].get<double>(),
                  s["max_open_get_ms"].get<double>(), s["median_process_ms"].get<double>());
    };
    line("warm", v["warm"]);
    line("cold", v["cold"]);
  }
  int64_t largest_kb = 0;
  for (const auto& r : results) largest_kb = std::max(largest_kb, r.peak_rss_kb);
  std::cout << "\nlargest peak RSS of a phase " << Thousands(largest_kb / 1024.0)
            << " MiB (each phase runs in a process of its own)" << std::endl;

  if (!a.out.empty()) {
    std::ofstream out(a.out);
    out << report.dump(2) << "\n";
    if (!out) Die("cannot write " + a.out);
    std::cerr << "wrote " << a.out << std::endl;
  }
  return 0;
}

void Usage() {
  std::cerr
      << "usage: nodespace_import_bench --data DIR --scratch DIR [--out FILE.json]\n"
         "         [--batch-size N] [--extra-batch-sizes N,M] [--limit ROWS]\n"
         "         [--phases read,parse,parse_emb,sqlite,sqlite_emb,sqlite_idx,sqlite_schema,\n"
         "                   changes_1,changes_64,nodespace,sqlite_schema_emb,nodespace_emb,\n"
         "                   nodespace_bulk,nodespace_bulk_emb,nodespace_batches,cold_open]\n"
         "         [--warm-runs N] [--cold-runs N] [--get-id ID] [--page-cache-mib N]\n"
         "         [--no-manager]\n"
         "       nodespace_import_bench --cold-open DB_DIR --get-id ID\n"
         "       nodespace_import_bench --cold-open-sqlite DB_FILE --get-id ID\n";
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::string cold_dir, cold_sqlite;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        Die(arg + " needs a value");
      }
      return argv[++i];
    };
    if (arg == "--data")
      a.data = next();
    else if (arg == "--scratch")
      a.scratch = next();
    else if (arg == "--out")
      a.out = next();
    else if (arg == "--batch-size")
      a.batch_size = std::stoul(next());
    else if (arg == "--extra-batch-sizes") {
      for (const auto& s : Split(next())) a.extra_batch_sizes.push_back(std::stoul(s));
    } else if (arg == "--limit")
      a.limit = std::stoull(next());
    else if (arg == "--phases")
      a.phases = Split(next());
    else if (arg == "--warm-runs")
      a.warm_runs = std::stoi(next());
    else if (arg == "--cold-runs")
      a.cold_runs = std::stoi(next());
    else if (arg == "--no-manager")
      g_no_manager = true;
    else if (arg == "--page-cache-mib")
      g_page_cache_mib = std::stoi(next());
    else if (arg == "--get-id")
      a.get_id = next();
    else if (arg == "--cold-open")
      cold_dir = next();
    else if (arg == "--cold-open-sqlite")
      cold_sqlite = next();
    else {
      Usage();
      Die("unknown argument " + arg);
    }
  }
  if (!cold_dir.empty()) return ColdOpenMain(cold_dir, a.get_id);
  if (!cold_sqlite.empty()) return ColdOpenSqliteMain(cold_sqlite, a.get_id);
  if (a.data.empty() || a.scratch.empty() || a.batch_size == 0) {
    Usage();
    return 2;
  }
  return BenchMain(a);
}
