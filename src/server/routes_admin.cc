// Import, export, backup, restore, reindex, tasks, statistics and scaling.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "io/jsonl_export.h"
#include "io/jsonl_import.h"
#include "model/ids.h"
#include "nodespace/markdown.h"
#include "scaling/metrics_json.h"
#include "server/archive_extract.h"
#include "server/server_state.h"

namespace nodespace::server {
namespace {

namespace fs = std::filesystem;

nlohmann::json BackupJson(const BackupReport& r) {
  return {{"path", r.path},
          {"change_seq", r.change_seq},
          {"node_count", r.node_count},
          {"bytes", r.bytes},
          {"seconds", r.seconds}};
}

// The backup `name` as a path inside the backup directory. Names are one
// plain path segment: no separators, no "..", no NUL, no leading dot; an
// existing entry must be a real directory (a symlink could lead anywhere).
std::string BackupPath(const ServerState& state, const std::string& name, bool must_exist) {
  static const std::regex kName("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  if (name.find('\0') != std::string::npos || name.find("..") != std::string::npos ||
      !std::regex_match(name, kName)) {
    throw ApiError::BadRequest(
        "name: a backup name is letters, digits, '.', '_' and '-' (no path, no '..')");
  }
  const std::string path = state.backup_dir + "/" + name;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) throw ApiError::BadRequest("name: '" + name + "' is a symbolic link");
    if (!S_ISDIR(st.st_mode)) throw ApiError::BadRequest("name: '" + name + "' is not a backup");
  } else if (must_exist) {
    throw ApiError::NotFound("no backup named '" + name + "'");
  }
  return path;
}

// A std::ostream that writes into an HTTP chunked response.
class SinkBuf : public std::streambuf {
 public:
  explicit SinkBuf(httplib::DataSink& sink) : sink_(sink) { setp(buf_, buf_ + sizeof buf_); }
  ~SinkBuf() override { sync(); }
  bool failed() const { return failed_; }

 protected:
  int overflow(int c) override {
    if (sync() != 0) return traits_type::eof();
    if (c != traits_type::eof()) {
      *pptr() = static_cast<char>(c);
      pbump(1);
    }
    return c == traits_type::eof() ? 0 : c;
  }
  int sync() override {
    const size_t n = pptr() - pbase();
    if (n > 0 && !failed_) failed_ = !sink_.is_writable() || !sink_.write(pbase(), n);
    setp(buf_, buf_ + sizeof buf_);
    return failed_ ? -1 : 0;
  }

 private:
  httplib::DataSink& sink_;
  char buf_[64 << 10];
  bool failed_ = false;
};

// Receives an upload into a file in the spool directory.
std::string SpoolUpload(const ServerState& state, const Call& call, const std::string& suffix,
                        uint64_t* bytes) {
  std::error_code ec;
  fs::create_directories(state.spool_dir, ec);
  const std::string path = state.spool_dir + "/upload-" + call.request_id + suffix;
  std::ofstream out(path, std::ios::binary);
  if (!out) throw ApiError{507, "insufficient_storage", "cannot create the upload file"};
  *bytes = 0;
  bool too_large = false;
  (*call.content_reader)([&](const char* data, size_t n) {
    *bytes += n;
    if (*bytes > state.options.max_import_bytes) {
      too_large = true;
      return false;
    }
    out.write(data, static_cast<std::streamsize>(n));
    return static_cast<bool>(out);
  });
  out.close();
  if (too_large || !out) {
    fs::remove(path, ec);
    if (too_large) {
      throw ApiError::PayloadTooLarge("an import may be " +
                                      std::to_string(state.options.max_import_bytes) + " bytes");
    }
    throw ApiError{507, "insufficient_storage", "could not store the upload (disk full?)"};
  }
  return path;
}

Reply Accepted(const std::string& task_id) {
  return Reply::Json({{"task_id", task_id}, {"status_url", "/v1/tasks/" + task_id}}, 202);
}

bool MayReadTask(const Call& call, const TaskSnapshot& t) {
  return call.principal.role == Role::kAdmin || t.owner_key == call.principal.key_id;
}

}  // namespace

void AddAdminRoutes(ServerState& state, std::vector<Route>* routes) {
  ServerState* s = &state;

  AddRoute(
      routes, "POST", "/v1/import", Role::kWrite, ScopeRule::kUnscoped,
      "NDJSON import (docs/formats/jsonl.md), streamed to disk, then applied by a task "
      "(202); ?on_error=skip|abort; the task's result lists every bad line",
      [s](Call& call) {
        const std::string on_error = call.Query("on_error", "skip");
        if (on_error != "skip" && on_error != "abort") {
          throw ApiError::BadRequest("on_error: expected skip or abort");
        }
        const int64_t batch = call.QueryInt("batch_size", 5000, 1, 100000);
        uint64_t bytes = 0;
        const std::string path = SpoolUpload(*s, call, ".ndjson", &bytes);
        const std::string origin = call.origin;
        std::string id = s->tasks.Start(
            "import", call.principal.key_id,
            [s, path, on_error, batch, origin](TaskProgress& progress) -> Result<nlohmann::json> {
              std::ifstream in(path, std::ios::binary);
              std::error_code ec;
              if (!in) return Status::IOError("the uploaded file is gone");
              io::ImportOptions o;
              o.batch_size = static_cast<size_t>(batch);
              o.on_error = on_error == "abort" ? io::OnError::kAbort : io::OnError::kSkip;
              o.source_name = "upload";
              o.write_options.origin = origin;
              nlohmann::json bad_lines = nlohmann::json::array();
              io::ImportCallbacks cb;
              cb.on_error = [&](const std::string& m) {
                if (bad_lines.size() < 10000) bad_lines.push_back(m);
              };
              cb.on_commit = [&](uint64_t, uint64_t, uint64_t, int64_t seq) {
                s->notifier.Publish(seq);
              };
              cb.on_progress = [&](const io::ImportProgress& p) {
                progress.Set({{"bytes_read", p.bytes_read},
                              {"lines", p.lines},
                              {"nodes_written", p.nodes_written},
                              {"errors", p.errors}});
              };
              Result<io::ImportSummary> summary = [&]() -> Result<io::ImportSummary> {
                auto db = s->db.Acquire();
                if (!db.valid()) return Status::Busy("the database is being restored");
                return io::ImportJsonl(*db, in, o, cb);
              }();
              fs::remove(path, ec);
              if (!summary.ok()) return summary.status();
              return nlohmann::json{{"lines", summary->lines},     {"nodes", summary->nodes},
                                    {"edges", summary->edges},     {"errors", summary->errors},
                                    {"batches", summary->batches}, {"aborted", summary->aborted},
                                    {"bad_lines", bad_lines}};
            });
        Reply r = Accepted(id);
        r.body["bytes"] = bytes;
        return r;
      });
  routes->back().large_body = true;

  AddRoute(
      routes, "POST", "/v1/import/markdown", Role::kWrite, ScopeRule::kUnscoped,
      "A zip or tar archive of a Markdown, Obsidian or Logseq folder, unpacked and imported by "
      "a task (202); ?flavor=auto|markdown|obsidian|logseq, ?vault=NAME (default: the "
      "archive's top folder, else ?filename without extension)",
      [s](Call& call) {
        const std::string flavor_name = call.Query("flavor", "auto");
        std::optional<MarkdownFlavor> flavor = ParseMarkdownFlavor(flavor_name);
        if (!flavor) {
          throw ApiError::BadRequest("flavor: expected auto, markdown, obsidian or logseq");
        }
        // The vault's name fixes the node ids: a name given wins, then the
        // archive's own top folder (the same whatever the zip is called),
        // then the uploaded file's name.
        const std::string vault = call.Query("vault");
        const std::string file_stem = fs::path(call.Query("filename")).stem().string();
        for (const std::string* name : {&vault, &file_stem}) {
          if (name->size() > 200 || name->find('/') != std::string::npos) {
            throw ApiError::BadRequest("vault: at most 200 bytes, no '/'");
          }
        }
        uint64_t bytes = 0;
        const std::string path = SpoolUpload(*s, call, ".archive", &bytes);
        const std::string origin = call.origin;
        const uint64_t max_bytes = s->options.max_import_bytes;
        const std::string dir = s->spool_dir + "/unpacked-" + call.request_id;
        std::string id = s->tasks.Start(
            "import", call.principal.key_id,
            [s, path, dir, vault, file_stem, flavor, origin,
             max_bytes](TaskProgress& progress) -> Result<nlohmann::json> {
              struct Cleanup {
                std::string archive, folder;
                ~Cleanup() {
                  std::error_code ec;
                  fs::remove(archive, ec);
                  fs::remove_all(folder, ec);
                }
              } cleanup{path, dir};
              progress.Set({{"stage", "unpacking"}});
              ExtractLimits limits;
              limits.max_bytes = max_bytes;
              NS_ASSIGN_OR_RETURN(ExtractReport unpacked, ExtractArchive(path, dir, limits));
              std::string folder = dir;
              MarkdownImportOptions o;
              o.flavor = *flavor;
              if (!unpacked.single_top_dir.empty()) folder = dir + "/" + unpacked.single_top_dir;
              o.vault_name = !vault.empty()                     ? vault
                             : !unpacked.single_top_dir.empty() ? unpacked.single_top_dir
                             : !file_stem.empty()               ? file_stem
                                                                : "upload";
              o.write_options.origin = origin;
              auto db = s->db.Acquire();
              if (!db.valid()) return Status::Busy("the database is being restored");
              o.on_progress = [&](const MarkdownImportProgress& p) {
                progress.Set({{"stage", "importing"},
                              {"files_done", p.files_done},
                              {"files_total", p.files_total},
                              {"bytes_read", p.bytes_read},
                              {"bytes_total", p.bytes_total},
                              {"nodes_written", p.nodes_written}});
                s->notifier.Publish(db->LastChangeSeq());
              };
              NS_ASSIGN_OR_RETURN(MarkdownImportReport report, ImportMarkdown(*db, folder, o));
              s->notifier.Publish(db->LastChangeSeq());
              return nlohmann::json{{"vault", o.vault_name},
                                    {"flavor", MarkdownFlavorName(report.flavor)},
                                    {"archive_files", unpacked.files},
                                    {"archive_skipped", unpacked.skipped},
                                    {"files", report.files},
                                    {"files_unchanged", report.files_unchanged},
                                    {"files_failed", report.files_failed},
                                    {"nodes_created", report.nodes_created},
                                    {"nodes_updated", report.nodes_updated},
                                    {"nodes_deleted", report.nodes_deleted},
                                    {"links_resolved", report.links_resolved},
                                    {"unresolved", report.unresolved},
                                    {"errors", report.errors}};
            });
        Reply r = Accepted(id);
        r.body["bytes"] = bytes;
        return r;
      });
  routes->back().large_body = true;

  AddRoute(routes, "GET", "/v1/export", Role::kRead, ScopeRule::kHandler,
           "NDJSON export, streamed: ?root=<id> for one subtree, ?embeddings=false",
           [s](Call& call) {
             io::ExportOptions o;
             o.root_id = call.Query("root");
             o.with_embeddings = call.Query("embeddings", "true") != "false";
             if (call.principal.scoped()) {
               if (o.root_id.empty())
                 throw ApiError::Forbidden("a scoped key must name a ?root inside its scopes");
               RequireInScope(call, *s->Db(), o.root_id);
             } else if (!o.root_id.empty()) {
               Value(s->Db()->Get(o.root_id));
             }
             call.res.set_chunked_content_provider(
                 "application/x-ndjson", [s, o](size_t, httplib::DataSink& sink) {
                   auto db = s->db.Acquire();
                   if (!db.valid()) return false;
                   SinkBuf buf(sink);
                   std::ostream out(&buf);
                   auto summary = io::ExportJsonl(*db, out, o);
                   out.flush();
                   if (buf.failed() || !summary.ok()) return false;  // the client sees a cut stream
                   sink.done();
                   return true;
                 });
             return Reply::Streamed();
           });

  AddRoute(
      routes, "POST", "/v1/backups", Role::kAdmin, ScopeRule::kUnscoped,
      "Starts a consistent online backup into the backup directory (202): {name?}",
      [s](Call& call) {
        nlohmann::json body = call.req.body.empty() ? nlohmann::json::object() : call.Body();
        std::string name = body.is_object() ? body.value("name", "") : "";
        if (name.empty()) name = "backup-" + ids::FormatTimestamp(ids::NowMs());
        std::replace(name.begin(), name.end(), ':', '-');
        const std::string path = BackupPath(*s, name, false);
        if (fs::exists(path))
          throw ApiError{409, "already_exists", "a backup named '" + name + "' exists"};
        return Accepted(s->tasks.Start("backup", call.principal.key_id,
                                       [s, path](TaskProgress&) -> Result<nlohmann::json> {
                                         std::error_code ec;
                                         fs::create_directories(s->backup_dir, ec);
                                         auto db = s->db.Acquire();
                                         if (!db.valid())
                                           return Status::Busy("the database is being restored");
                                         NS_ASSIGN_OR_RETURN(BackupReport report, db->Backup(path));
                                         return BackupJson(report);
                                       }));
      });

  AddRoute(routes, "GET", "/v1/backups", Role::kAdmin, ScopeRule::kUnscoped,
           "Backups in the backup directory", [s](Call&) {
             nlohmann::json out = nlohmann::json::array();
             std::error_code ec;
             for (const auto& e : fs::directory_iterator(s->backup_dir, ec)) {
               if (!e.is_directory() || e.is_symlink()) continue;
               out.push_back({{"name", e.path().filename().string()}});
             }
             return Reply::Json({{"backups", out}, {"directory", s->backup_dir}});
           });

  AddRoute(
      routes, "POST", "/v1/restore", Role::kAdmin, ScopeRule::kUnscoped,
      "Replaces the database with a backup (202): {name}; requests wait meanwhile",
      [s](Call& call) {
        nlohmann::json body = call.Body();
        if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
          throw ApiError::BadRequest("name: required (a backup in the backup directory)");
        }
        const std::string path = BackupPath(*s, body["name"].get<std::string>(), true);
        return Accepted(s->tasks.Start(
            "restore", call.principal.key_id, [s, path](TaskProgress&) -> Result<nlohmann::json> {
              BackupReport report;
              Status st = s->db.Replace([&](const std::string& db_path) -> Status {
                auto r = Database::Restore(path, db_path, /*overwrite=*/true);
                if (!r.ok()) return r.status();
                report = *r;
                return Status::OK();
              });
              if (!st.ok()) return st;
              s->notifier.Publish(report.change_seq);
              return BackupJson(report);
            }));
      });

  AddRoute(
      routes, "POST", "/v1/reindex", Role::kAdmin, ScopeRule::kUnscoped,
      "Rebuilds the vector indexes and merges the full-text index (202)", [s](Call& call) {
        return Accepted(s->tasks.Start(
            "reindex", call.principal.key_id,
            [s](TaskProgress& progress) -> Result<nlohmann::json> {
              auto db = s->db.Acquire();
              if (!db.valid()) return Status::Busy("the database is being restored");
              progress.Set({{"step", "vectors"}});
              NS_ASSIGN_OR_RETURN(ScalingEvent e, db->ApplyScalingAction(
                                                      OptimizationAction::kRebuildVectorIndexes));
              progress.Set({{"step", "text"}});
              NS_RETURN_IF_ERROR(db->OptimizeTextIndex());
              return nlohmann::json{{"vectors", scaling::EventToJson(e)}, {"text", "optimized"}};
            }));
      });

  AddRoute(routes, "GET", "/v1/tasks/{id}", Role::kRead, ScopeRule::kNone,
           "Progress and outcome of a task (its starter's key or an admin key)", [s](Call& call) {
             auto t = s->tasks.Get(call.param(1));
             if (!t || !MayReadTask(call, *t))
               throw ApiError::NotFound("no task '" + call.param(1) + "'");
             return Reply::Json(t->ToJson());
           });

  AddRoute(routes, "GET", "/v1/tasks", Role::kRead, ScopeRule::kNone,
           "Tasks this key started (an admin key sees all)", [s](Call& call) {
             nlohmann::json out = nlohmann::json::array();
             for (const TaskSnapshot& t : s->tasks.List()) {
               if (MayReadTask(call, t)) out.push_back(t.ToJson());
             }
             return Reply::Json({{"tasks", out}});
           });

  AddRoute(routes, "GET", "/v1/stats", Role::kRead, ScopeRule::kUnscoped,
           "Counts, sizes and the change sequence", [s](Call&) {
             DatabaseStats st = Value(s->Db()->Stats());
             return Reply::Json({{"node_count", st.node_count},
                                 {"root_count", st.root_count},
                                 {"edge_count", st.edge_count},
                                 {"stored_edge_count", st.stored_edge_count},
                                 {"embedding_count", st.embedding_count},
                                 {"change_seq", st.change_seq},
                                 {"storage_bytes", st.storage_bytes},
                                 {"schema_version", st.schema_version}});
           });

  AddRoute(routes, "GET", "/v1/scaling/status", Role::kRead, ScopeRule::kUnscoped,
           "Scaling phase, every metric against its threshold, memory tier and cost config",
           [s](Call&) {
             return Reply::Json(scaling::StatusToJson(Value(s->Db()->GetScalingStatus())));
           });

  AddRoute(routes, "GET", "/v1/scaling/history", Role::kRead, ScopeRule::kUnscoped,
           "Scaling events (triggers and actions), newest first; ?limit", [s](Call& call) {
             const auto limit = static_cast<size_t>(call.QueryInt("limit", 100, 1, 10000));
             nlohmann::json out = nlohmann::json::array();
             for (const ScalingEvent& e : Value(s->Db()->ScalingHistory(limit)))
               out.push_back(scaling::EventToJson(e));
             return Reply::Json({{"events", out}});
           });

  AddRoute(routes, "GET", "/v1/scaling/samples", Role::kRead, ScopeRule::kUnscoped,
           "Recent metric samples, oldest first (the dashboard's charts); ?limit", [s](Call& call) {
             const auto limit = static_cast<size_t>(call.QueryInt("limit", 720, 1, 100000));
             nlohmann::json out = nlohmann::json::array();
             for (const ScalingMetrics& m : s->Db()->RecentScalingSamples(limit))
               out.push_back(scaling::MetricsToJson(m));
             return Reply::Json({{"samples", out}});
           });

  AddRoute(routes, "POST", "/v1/scaling/actions/{action}", Role::kAdmin, ScopeRule::kUnscoped,
           "Applies one optimisation action now (?dry_run=true: report only)", [s](Call& call) {
             OptimizationAction action = Value(ParseOptimizationAction(call.param(1)), true);
             ScalingEvent e =
                 Value(s->Db()->ApplyScalingAction(action, call.Query("dry_run") == "true"));
             return Reply::Json(scaling::EventToJson(e));
           });
}

}  // namespace nodespace::server
