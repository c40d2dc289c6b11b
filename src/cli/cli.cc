#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/backup_command.h"
#include "cli/markdown_command.h"
#include "cli/partitions_command.h"
#include "cli/progress.h"
#include "cli/query_command.h"
#include "cli/scaling_command.h"
#include "cli/search_command.h"
#include "cli/serve_command.h"
#include "cli/vector_service_command.h"
#include "io/jsonl_export.h"
#include "io/jsonl_import.h"
#include "io/node_json.h"
#include "model/ids.h"
#include "scaling/metrics_json.h"

namespace nodespace::cli {
namespace {

constexpr int64_t kOptimizeAfterImportNodes = 10000;

std::string FirstLine(const std::string& text, size_t max_bytes = 80) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max_bytes) {
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line = line.substr(0, cut) + "...";
  }
  return line;
}

std::string Summary(const Node& n) {
  std::string s = n.title.empty() ? FirstLine(n.content) : n.title;
  std::string out = s + "  [" + n.node_type + "] (" + n.id + ")";
  if (n.lifecycle != Lifecycle::kActive)
    out += " {" + std::string(LifecycleName(n.lifecycle)) + "}";
  return out;
}

}  // namespace

Session::Session(std::ostream& out, std::ostream& err, bool terminal)
    : out_(out), err_(err), terminal_(terminal) {}

Session::~Session() = default;

void Session::CloseDatabase() {
  db_.reset();
  db_path_.clear();
}

Result<Database*> Session::OpenDatabase(const std::string& path, bool create,
                                        bool background_checks) {
  if (db_ && db_path_ == path && db_background_checks_ == background_checks) return db_.get();
  db_.reset();
  Options options;
  options.create_if_missing = create;
  if (!background_checks) options.scaling.interval_ms = 0;
  NS_ASSIGN_OR_RETURN(db_, Database::Open(path, options));
  db_path_ = path;
  db_background_checks_ = background_checks;
  return db_.get();
}

int Session::Run(const std::vector<std::string>& args) {
  CLI::App app{"nodespace: a storage and query engine for hierarchical notes"};
  app.name("nodespace");
  app.require_subcommand(1);
  app.fallthrough(true);  // global options may follow the command
  const char* env_db = std::getenv("NODESPACE_DB");
  std::string db_path = env_db && *env_db ? env_db : "./nodespace-data";
  bool json = false;
  app.add_option("--db", db_path,
                 "database directory (default: $NODESPACE_DB or ./nodespace-data)");
  app.add_flag("--json", json, "machine-readable JSON output");

  // Shared option holders.
  std::string id, parent, type = "text", content, content_file, properties, before, after, path, to,
                          edge_type, file = "-", out_file, on_error = "skip", bulk = "auto";
  std::optional<std::string> opt_content, opt_type, opt_properties, field;
  int64_t version = kAnyVersion;
  int depth = -1;
  bool first = false, root = false, all = false, report_commits = false, no_embeddings = false;
  size_t batch_size = io::kDefaultBatchSize, limit = 100;
  int64_t since = 0;

  auto* init = app.add_subcommand("init", "create an empty database");
  auto* imp = app.add_subcommand("import", "import nodes from JSONL (FILE or - for stdin)");
  imp->add_option("file", file, "JSONL file, - for stdin")->required();
  auto* batch_option =
      imp->add_option("--batch-size", batch_size,
                      "nodes per transaction (default 5000; 50000 when the import bulk loads)")
          ->check(CLI::Range(1, 1000000));
  imp->add_option("--on-error", on_error,
                  "skip: report bad lines and go on; abort: stop at the first")
      ->check(CLI::IsMember({"skip", "abort"}));
  imp->add_flag("--no-embeddings", no_embeddings, "ignore embedding fields");
  imp->add_option("--bulk", bulk,
                  "build the full-text and secondary indexes once at the end: auto (when the "
                  "file is likely to bring more nodes than the database holds), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  imp->add_flag("--report-commits", report_commits,
                "print a line on stdout after each committed batch");
  auto* exp = app.add_subcommand("export", "write every node as JSONL (re-importable)");
  exp->add_option("-o,--out", out_file, "output file (default stdout)");
  exp->add_option("--root", id, "export only this subtree");
  exp->add_flag("--no-embeddings", no_embeddings, "leave out embeddings");
  auto* get = app.add_subcommand("get", "show one node");
  get->add_option("id", id)->required();
  get->add_option("--field", field, "print only this field");
  auto* add = app.add_subcommand("add", "create a node");
  add->add_option("--id", id, "node id (default: a new UUIDv7)");
  add->add_option("-p,--parent", parent, "parent id (a YYYY-MM-DD parent is created on demand)");
  add->add_option("-t,--type", type, "node type");
  add->add_option("-c,--content", content, "markdown content");
  add->add_option("--content-file", content_file, "read the content from a file");
  add->add_option("--properties", properties, "properties as a JSON object");
  add->add_flag("--first", first, "place first among its siblings (default: last)");
  add->add_option("--before", before, "place before this sibling");
  add->add_option("--after", after, "place after this sibling");
  auto* upd = app.add_subcommand("update", "change a node's content, type or properties");
  upd->add_option("id", id)->required();
  upd->add_option("-c,--content", opt_content);
  upd->add_option("-t,--type", opt_type);
  upd->add_option("--properties", opt_properties);
  upd->add_option("--version", version, "fail with a conflict unless the node is at this version");
  auto* mv = app.add_subcommand("mv", "move a node (and its subtree)");
  mv->add_option("id", id)->required();
  mv->add_option("-p,--parent", parent, "new parent");
  mv->add_flag("--root", root, "make it a root");
  mv->add_flag("--first", first);
  mv->add_option("--before", before);
  mv->add_option("--after", after);
  mv->add_option("--version", version);
  auto* rm = app.add_subcommand("rm", "delete a node and its whole subtree");
  rm->add_option("id", id)->required();
  rm->add_option("--version", version);
  auto* archive = app.add_subcommand("archive", "archive a node and its subtree");
  archive->add_option("id", id)->required();
  archive->add_option("--version", version);
  auto* trash = app.add_subcommand("trash", "mark a node and its subtree deleted (restorable)");
  trash->add_option("id", id)->required();
  trash->add_option("--version", version);
  auto* restore = app.add_subcommand("restore", "make an archived or trashed subtree active");
  restore->add_option("id", id)->required();
  restore->add_option("--version", version);
  auto* tree = app.add_subcommand("tree", "print a subtree (all roots without ID)");
  tree->add_option("id", id);
  tree->add_option("-d,--depth", depth, "levels below the root (default: all)");
  tree->add_flag("-a,--all", all, "include archived and trashed nodes");
  auto* roots = app.add_subcommand("roots", "list root nodes");
  roots->add_flag("-a,--all", all);
  auto* children = app.add_subcommand("children", "list a node's children in order");
  children->add_option("id", id)->required();
  children->add_flag("-a,--all", all);
  auto* ancestors = app.add_subcommand("ancestors", "the path from the root to a node");
  ancestors->add_option("id", id)->required();
  auto* backlinks = app.add_subcommand("backlinks", "nodes that mention a node");
  backlinks->add_option("id", id)->required();
  auto* link = app.add_subcommand("link", "add an edge FROM TO TYPE");
  link->add_option("from", id)->required();
  link->add_option("to", to)->required();
  link->add_option("type", edge_type)->required();
  link->add_option("--properties", properties);
  auto* unlink = app.add_subcommand("unlink", "remove an edge FROM TO TYPE");
  unlink->add_option("from", id)->required();
  unlink->add_option("to", to)->required();
  unlink->add_option("type", edge_type)->required();
  auto* collect = app.add_subcommand("collect", "add a node to a collection path a:b:c");
  collect->add_option("id", id)->required();
  collect->add_option("path", path)->required();
  auto* collection = app.add_subcommand("collection", "list the members of a collection path");
  collection->add_option("path", path)->required();
  auto* changes = app.add_subcommand("changes", "read the change log");
  changes->add_option("--since", since, "changes after this sequence number");
  changes->add_option("--limit", limit)->check(CLI::Range(1, 1000000));
  auto* stats = app.add_subcommand("stats", "counts and sizes");
  auto* check = app.add_subcommand("check", "verify integrity (SQLite, change log, tree)");
  SearchArgs search_args;
  auto* search = AddSearchCommand(app, search_args);
  EmbedArgs embed_args;
  auto* embed = AddEmbedCommand(app, embed_args);
  QueryArgs query_args;
  auto* query_cmd = AddQueryCommand(app, query_args);
  ScalingArgs scaling_args;
  auto* scaling_cmd = AddScalingCommand(app, scaling_args);
  ImportMdArgs import_md_args;
  auto* import_md = AddImportMdCommand(app, import_md_args);
  ExportMdArgs export_md_args;
  auto* export_md = AddExportMdCommand(app, export_md_args);
  BackupArgs backup_args;
  auto* backup = AddBackupCommand(app, backup_args);
  RestoreBackupArgs restore_backup_args;
  auto* restore_backup = AddRestoreBackupCommand(app, restore_backup_args);
  PartitionsArgs partitions_args;
  auto* partitions_cmd = AddPartitionsCommand(app, partitions_args);
  VectorServiceArgs vector_service_args;
  auto* vector_service = AddVectorServiceCommand(app, vector_service_args);
  ServeArgs serve_args;
  auto* serve = AddServeCommand(app, serve_args);
  KeysArgs keys_args;
  auto* keys = AddKeysCommand(app, keys_args);
  auto* mcp = AddMcpCommand(app);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out_, err_);
    return code == 0 ? kExitOk : kExitUsage;
  }

  auto fail = [&](const Status& st) {
    err_ << "error: " << st.message() << "\n";
    return kExitError;
  };
  auto print_node = [&](const Node& n) {
    if (json) {
      out_ << io::NodeToJson(n).dump() << "\n";
    } else {
      out_ << Summary(n) << "\n";
    }
  };
  auto print_nodes = [&](const std::vector<Node>& nodes) {
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& n : nodes) arr.push_back(io::NodeToJson(n, false));
      out_ << arr.dump() << "\n";
    } else {
      for (const auto& n : nodes) out_ << Summary(n) << "\n";
    }
  };
  auto position = [&]() {
    if (first) return Position::First();
    if (!before.empty()) return Position::Before(before);
    if (!after.empty()) return Position::After(after);
    return Position::Last();
  };
  auto positions_given = [&]() {
    return static_cast<int>(first) + !before.empty() + !after.empty();
  };

  if (restore_backup->parsed()) {
    CloseDatabase();  // the restore swaps the directory; never open it first
    return RunRestoreBackup(db_path, restore_backup_args, json, out_, err_);
  }
  if (vector_service->parsed()) {
    CloseDatabase();  // the service reads with connections of its own
    return RunVectorServiceCommand(db_path, vector_service_args, err_);
  }
  if (serve->parsed()) {
    CloseDatabase();  // the server opens it with its own options
    return RunServeCommand(db_path, serve_args, out_, err_);
  }
  if (keys->parsed()) return RunKeysCommand(db_path, keys_args, json, out_, err_);
  if (mcp->parsed()) {
    CloseDatabase();
    return RunMcpCommand(db_path, std::cin, out_, err_);
  }
  if (partitions_cmd->parsed()) {
    CloseDatabase();  // it opens the database with the options it was given
    return RunPartitionsCommand(db_path, partitions_args, json, out_, err_);
  }
  const bool creates = init->parsed() || imp->parsed() || import_md->parsed();
  if (init->parsed()) {
    Options options;
    options.error_if_exists = true;
    auto db = Database::Open(db_path, options);
    if (!db.ok()) return fail(db.status());
    if (json) {
      out_ << nlohmann::json({{"db", db_path}, {"created", true}}).dump() << "\n";
    } else {
      out_ << "created database in " << db_path << "\n";
    }
    return kExitOk;
  }
  // An operator's `scaling apply X` applies X: the manager of that process
  // checks nothing on its own meanwhile (a rebuild at 1M runs for minutes).
  auto opened = OpenDatabase(db_path, creates, /*background_checks=*/!scaling_cmd->parsed());
  if (!opened.ok()) return fail(opened.status());
  Database& db = **opened;

  if (imp->parsed()) {
    io::ImportOptions options;
    options.batch_size = batch_size;
    options.on_error = on_error == "abort" ? io::OnError::kAbort : io::OnError::kSkip;
    options.with_embeddings = !no_embeddings;
    options.source_name = file;
    std::ifstream in_file;
    std::istream* in = &std::cin;
    uint64_t total = 0;
    if (file != "-") {
      in_file.open(file, std::ios::binary);
      if (!in_file) return fail(Status::IOError("cannot read '" + file + "'"));
      in_file.seekg(0, std::ios::end);
      total = static_cast<uint64_t>(in_file.tellg());
      in_file.seekg(0);
      in = &in_file;
    }
    if (bulk == "auto") {
      // Rebuilding costs a pass over every row, new and old; maintaining
      // the indexes row by row costs about three times that per new row.
      // Lines are at most ~4 KiB (384 floats as JSON), so bytes / 4096
      // underestimates the new rows: bulk when the database holds fewer
      // than twice that.
      auto count = db.NodeCount();
      if (!count.ok()) return fail(count.status());
      const auto held = static_cast<uint64_t>(*count);
      options.bulk_load = held == 0 || (total > 0 && held < total / 2048);
    } else {
      options.bulk_load = bulk == "on";
    }
    if (options.bulk_load && batch_option->count() == 0) {
      options.batch_size = io::kBulkLoadBatchSize;
    }
    ProgressBar bar(err_, total, terminal_ && !json);
    io::ImportCallbacks cb;
    cb.on_error = [&](const std::string& msg) {
      bar.Finish();
      err_ << msg << "\n";
    };
    cb.on_progress = [&](const io::ImportProgress& p) { bar.Update(p.bytes_read, p.lines); };
    if (report_commits) {
      cb.on_commit = [&](uint64_t a, uint64_t b, uint64_t nodes, int64_t seq) {
        out_ << "committed lines " << a << "-" << b << " nodes " << nodes << " seq " << seq
             << std::endl;
      };
    }
    const auto start = std::chrono::steady_clock::now();
    auto summary = io::ImportJsonl(db, *in, options, cb);
    bar.Finish();
    if (!summary.ok()) return fail(summary.status().WithContext("import stopped"));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // A large import leaves the full-text index in many segments; merging
    // them once makes every later query cheaper. A bulk load's finish has
    // merged them already.
    if (summary->nodes >= kOptimizeAfterImportNodes && !options.bulk_load) {
      Status st = db.OptimizeTextIndex();
      if (!st.ok()) return fail(st.WithContext("optimizing the full-text index after import"));
    }
    const auto& s = *summary;
    if (json) {
      out_ << nlohmann::json({{"lines", s.lines},
                              {"nodes", s.nodes},
                              {"edges", s.edges},
                              {"errors", s.errors},
                              {"batches", s.batches},
                              {"aborted", s.aborted},
                              {"seconds", secs}})
                  .dump()
           << "\n";
    } else {
      out_ << "imported " << WithThousands(s.nodes) << " nodes and " << WithThousands(s.edges)
           << " edges from " << WithThousands(s.lines) << " lines";
      if (s.errors > 0) out_ << ", " << s.errors << " rejected";
      if (s.aborted) out_ << " (aborted at the first error)";
      out_ << "\n";
    }
    if (s.aborted) return kExitError;
    return s.errors > 0 ? kExitPartial : kExitOk;
  }
  if (exp->parsed()) {
    io::ExportOptions options;
    options.with_embeddings = !no_embeddings;
    options.root_id = id;
    std::ofstream f;
    std::ostream* out = &out_;
    if (!out_file.empty()) {
      f.open(out_file, std::ios::binary | std::ios::trunc);
      if (!f) return fail(Status::IOError("cannot write '" + out_file + "'"));
      out = &f;
    }
    auto summary = io::ExportJsonl(db, *out, options);
    if (!summary.ok()) return fail(summary.status());
    if (!out_file.empty()) {
      err_ << "exported " << summary->nodes << " nodes and " << summary->edges << " edges to "
           << out_file << "\n";
    }
    return kExitOk;
  }
  if (get->parsed()) {
    auto node = db.Get(id);
    if (!node.ok()) return fail(node.status());
    nlohmann::json j = io::NodeToJson(*node);
    if (field) {
      if (!j.contains(*field)) {
        if (*field == "title" || *field == "embedding") {
          out_ << "\n";
          return kExitOk;
        }
        return fail(Status::InvalidArgument("no field '" + *field + "'"));
      }
      const auto& v = j[*field];
      out_ << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
      return kExitOk;
    }
    if (json) {
      out_ << j.dump() << "\n";
      return kExitOk;
    }
    out_ << "id: " << node->id << "\n"
         << "parent_id: " << node->parent_id << "\n"
         << "node_type: " << node->node_type << "\n"
         << "lifecycle: " << LifecycleName(node->lifecycle) << "\n"
         << "version: " << node->version << "\n"
         << "created_at: " << ids::FormatTimestamp(node->created_at) << "\n"
         << "modified_at: " << ids::FormatTimestamp(node->modified_at) << "\n";
    if (!node->title.empty()) out_ << "title: " << node->title << "\n";
    if (node->properties != "{}") out_ << "properties: " << node->properties << "\n";
    if (!node->embedding.empty()) out_ << "embedding: " << node->embedding.size() << " dims\n";
    out_ << "content:\n" << node->content << "\n";
    return kExitOk;
  }
  if (add->parsed()) {
    if (positions_given() > 1) {
      return fail(Status::InvalidArgument("give at most one of --first, --before, --after"));
    }
    NewNode n;
    n.id = id;
    n.parent_id = parent;
    n.node_type = type;
    n.content = content;
    if (!content_file.empty()) {
      std::ifstream f(content_file, std::ios::binary);
      if (!f) return fail(Status::IOError("cannot read '" + content_file + "'"));
      std::stringstream ss;
      ss << f.rdbuf();
      n.content = ss.str();
    }
    if (!properties.empty()) n.properties = properties;
    n.position = position();
    auto created = db.Create(n);
    if (!created.ok()) return fail(created.status());
    if (json) {
      print_node(*created);
    } else {
      out_ << created->id << "\n";
    }
    return kExitOk;
  }
  if (upd->parsed()) {
    NodePatch patch;
    patch.content = opt_content;
    patch.node_type = opt_type;
    patch.properties = opt_properties;
    auto updated = db.Update(id, patch, version);
    if (!updated.ok()) return fail(updated.status());
    if (json) {
      print_node(*updated);
    } else {
      out_ << updated->id << " version " << updated->version << "\n";
    }
    return kExitOk;
  }
  if (mv->parsed()) {
    if (root == !parent.empty()) {
      return fail(Status::InvalidArgument("give exactly one of --parent ID or --root"));
    }
    if (positions_given() > 1) {
      return fail(Status::InvalidArgument("give at most one of --first, --before, --after"));
    }
    auto moved = db.Move(id, parent, position(), version);
    if (!moved.ok()) return fail(moved.status());
    if (json) {
      print_node(*moved);
    } else {
      out_ << moved->id << " version " << moved->version << "\n";
    }
    return kExitOk;
  }
  if (rm->parsed()) {
    auto removed = db.Delete(id, version);
    if (!removed.ok()) return fail(removed.status());
    if (json) {
      out_ << nlohmann::json({{"removed", *removed}}).dump() << "\n";
    } else {
      out_ << "removed " << *removed << " node" << (*removed == 1 ? "" : "s") << "\n";
    }
    return kExitOk;
  }
  if (archive->parsed() || trash->parsed() || restore->parsed()) {
    const Lifecycle lc = archive->parsed() ? Lifecycle::kArchived
                         : trash->parsed() ? Lifecycle::kDeleted
                                           : Lifecycle::kActive;
    auto changed = db.SetLifecycle(id, lc, version);
    if (!changed.ok()) return fail(changed.status());
    if (json) {
      out_ << nlohmann::json({{"changed", *changed}, {"lifecycle", LifecycleName(lc)}}).dump()
           << "\n";
    } else {
      out_ << LifecycleName(lc) << ": " << *changed << " node" << (*changed == 1 ? "" : "s")
           << "\n";
    }
    return kExitOk;
  }
  if (tree->parsed()) {
    SubtreeOptions options;
    options.max_depth = depth;
    options.include_archived = all;
    auto visit = [&](const Node& n, int d) {
      if (json) {
        nlohmann::json j = io::NodeToJson(n, false);
        j["depth"] = d;
        out_ << j.dump() << "\n";
      } else {
        out_ << std::string(2 * d, ' ') << "- " << Summary(n) << "\n";
      }
      return static_cast<bool>(out_);
    };
    if (!id.empty()) {
      Status st = db.VisitSubtree(id, options, visit);
      return st.ok() ? kExitOk : fail(st);
    }
    ListOptions list;
    list.include_archived = all;
    auto rs = db.Roots(list);
    if (!rs.ok()) return fail(rs.status());
    for (const Node& r : *rs) {
      Status st = db.VisitSubtree(r.id, options, visit);
      if (!st.ok()) return fail(st);
    }
    return kExitOk;
  }
  if (roots->parsed() || children->parsed()) {
    ListOptions list;
    list.include_archived = all;
    auto nodes = roots->parsed() ? db.Roots(list) : db.Children(id, list);
    if (!nodes.ok()) return fail(nodes.status());
    print_nodes(*nodes);
    return kExitOk;
  }
  if (ancestors->parsed()) {
    auto nodes = db.Ancestors(id);
    if (!nodes.ok()) return fail(nodes.status());
    print_nodes(*nodes);
    return kExitOk;
  }
  if (search->parsed()) return RunSearch(db, search_args, json, out_, err_);
  if (embed->parsed()) return RunEmbed(db, embed_args, json, out_, err_);
  if (query_cmd->parsed()) return RunQueryCommand(db, query_args, json, std::cin, out_, err_);
  if (scaling_cmd->parsed()) return RunScalingCommand(db, scaling_args, json, out_, err_);
  if (import_md->parsed()) {
    return RunImportMd(db, import_md_args, json, terminal_, out_, err_);
  }
  if (export_md->parsed()) return RunExportMd(db, export_md_args, json, out_, err_);
  if (backup->parsed()) return RunBackup(db, backup_args, json, out_, err_);
  if (backlinks->parsed()) {
    auto nodes = db.Backlinks(id);
    if (!nodes.ok()) return fail(nodes.status());
    print_nodes(*nodes);
    return kExitOk;
  }
  if (link->parsed()) {
    Status st = db.AddEdge({id, to, edge_type, properties.empty() ? "{}" : properties});
    if (!st.ok()) return fail(st);
    if (!json) out_ << "linked " << id << " -" << edge_type << "-> " << to << "\n";
    return kExitOk;
  }
  if (unlink->parsed()) {
    Status st = db.RemoveEdge(id, to, edge_type);
    if (!st.ok()) return fail(st);
    if (!json) out_ << "unlinked " << id << " -" << edge_type << "-> " << to << "\n";
    return kExitOk;
  }
  if (collect->parsed()) {
    Status st = db.AddToCollection(id, path);
    if (!st.ok()) return fail(st);
    auto paths = db.CollectionsOf(id);
    if (!paths.ok()) return fail(paths.status());
    if (json) {
      out_ << nlohmann::json({{"id", id}, {"collections", *paths}}).dump() << "\n";
    } else {
      for (const auto& p : *paths) out_ << p << "\n";
    }
    return kExitOk;
  }
  if (collection->parsed()) {
    auto nodes = db.CollectionMembers(path);
    if (!nodes.ok()) return fail(nodes.status());
    print_nodes(*nodes);
    return kExitOk;
  }
  if (changes->parsed()) {
    auto list = db.ChangesSince(since, limit);
    if (!list.ok()) return fail(list.status());
    for (const Change& c : *list) {
      if (json) {
        out_ << nlohmann::json({{"seq", c.seq},
                                {"ts", ids::FormatTimestamp(c.timestamp)},
                                {"op", ChangeOpName(c.op)},
                                {"node_id", c.node_id},
                                {"version", c.version},
                                {"origin", c.origin},
                                {"payload", nlohmann::json::parse(c.payload, nullptr, false)}})
                    .dump()
             << "\n";
      } else {
        out_ << c.seq << " " << ChangeOpName(c.op) << " " << c.node_id << " v" << c.version << "\n";
      }
    }
    return kExitOk;
  }
  if (stats->parsed()) {
    auto s = db.Stats();
    if (!s.ok()) return fail(s.status());
    nlohmann::json j = {
        {"node_count", s->node_count},           {"root_count", s->root_count},
        {"edge_count", s->edge_count},           {"stored_edge_count", s->stored_edge_count},
        {"embedding_count", s->embedding_count}, {"change_seq", s->change_seq},
        {"storage_bytes", s->storage_bytes},     {"schema_version", s->schema_version}};
    // The scaling manager's view: every ScalingMetrics field.
    auto metrics = db.CollectScalingMetrics();
    if (!metrics.ok()) return fail(metrics.status());
    j["metrics"] = scaling::MetricsToJson(*metrics);
    if (json) {
      out_ << j.dump() << "\n";
    } else {
      for (const auto& [k, v] : j.items()) out_ << k << ": " << v.dump() << "\n";
    }
    return kExitOk;
  }
  if (check->parsed()) {
    Status st = db.CheckIntegrity();
    if (!st.ok()) return fail(st);
    out_ << (json ? "{\"ok\":true}" : "ok") << "\n";
    return kExitOk;
  }
  return fail(Status::Internal("no command ran"));
}

}  // namespace nodespace::cli
